"""The Shopify part of the gateway's configuration.

Pure: whoever wires the source reads it (an environment variable or a secret holding JSON) and
validates it with ``ShopifyConfig.model_validate_json``; every field has a default, so ``{}``
is a valid configuration.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

ClosingTopic = Literal["orders/create", "orders/paid"]

# Shopify field paths: snake_case names, nested objects joined by "." (email_marketing_consent.state).
_FIELD_PATH = re.compile(r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*")
# Talon.One attribute names as the Campaign Manager creates them.
_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_NAME = 255


def _check_attribute(name: str) -> str:
    if len(name) > _MAX_NAME or not _ATTRIBUTE.fullmatch(name):
        raise ValueError("must be a Talon.One attribute name (letters, digits, underscores)")
    return name


def _check_mapping(mapping: dict[str, str]) -> dict[str, str]:
    for path, attribute in mapping.items():
        if len(path) > _MAX_NAME or not _FIELD_PATH.fullmatch(path):
            raise ValueError("keys must be Shopify customer field paths such as tags or a.b")
        _check_attribute(attribute)
    if len(set(mapping.values())) != len(mapping):
        raise ValueError("two Shopify fields cannot set the same Talon.One attribute")
    return mapping


AttributeName = Annotated[str, AfterValidator(_check_attribute)]


class ShopifyConfig(BaseModel):
    """How Shopify's webhooks become Talon.One requests."""

    # camelCase in JSON (SHOPIFY_CONFIG: closingOrderTopic, skuAttribute, customerAttributes),
    # like the gateway's secrets; the Python names work too.
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        hide_input_in_errors=True,
        alias_generator=to_camel,
        populate_by_name=True,
    )

    # The order topic that closes the session; the other one is acknowledged and sends nothing.
    # orders/paid by default: budgets, coupons and loyalty points are only spent on orders that
    # were paid (an unpaid order cancelled later never closed its session).
    closing_order_topic: ClosingTopic = "orders/paid"
    # The cart item attribute that carries Shopify's own SKU (the cart item's sku is the variant
    # id, which is stable and always present); None sends no attribute. The attribute must exist
    # in the Campaign Manager.
    sku_attribute: AttributeName | None = "shopify_sku"
    # Shopify customer field path -> Talon.One customer profile attribute. Empty by default: a
    # profile is created under the customer's id and receives no personal data unless named here.
    customer_attributes: Annotated[dict[str, str], AfterValidator(_check_mapping)] = Field(
        default_factory=dict
    )
