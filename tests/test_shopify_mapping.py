"""Shopify payloads -> Talon.One: a test per row of the topic table, and the contract around it.

Payloads are the REST resource shapes of tests/fixtures/shopify (fictitious data). Every write
they produce is validated the way the gateway validates a caller's body: today's request models
(talon_gateway.models.requests), the operation's path and query parameters, its cart limits.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from talon_gateway.inbound.limits import check_limits
from talon_gateway.models import requests
from talon_gateway.models.base import RequestModel
from talon_gateway.operations import BY_NAME
from talon_gateway.sources.shopify import (
    Acknowledge,
    Deliver,
    Erase,
    Export,
    InvalidPayload,
    OrderRecord,
    Outcome,
    ShopifyConfig,
    ShopifyWebhook,
    UnknownOrder,
    Write,
    drop_reason,
    map_webhook,
    order_to_load,
    session_id_of,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "shopify"
SHOP = "example-store.myshopify.com"
CART_KEY = "824bdj25mhg1242bdb385"  # the cart token's secret suffix
SESSION = "c1-7a2abe82733a34e84aa472d57fb5c3c1"  # the cart token without it
CHECKOUT_TOKEN = "2a1ace52255252df566af0faaedfbfa7"
CUSTOMER = "207119551"
ORDER = "450789469"
TRIGGERED = datetime(2026, 5, 6, 14, 12, 1, tzinfo=UTC)
# The order fixture's lines, in cart-item order (its quantity-0 line is not a cart item).
ORDER_LINES = ("866550311766439020", "518995019", "703073504")
RECORD = OrderRecord(ORDER, SESSION, ORDER_LINES, CUSTOMER, SHOP)

BODY_MODELS: dict[str, type[RequestModel]] = {
    "updateCustomerSessionV2": requests.IntegrationRequest,
    "returnCartItems": requests.ReturnIntegrationRequest,
    "updateCustomerProfileV2": requests.CustomerProfileIntegrationRequestV2,
}


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


def hook(topic: str, triggered_at: datetime | None = TRIGGERED) -> ShopifyWebhook:
    return ShopifyWebhook(
        topic=topic,
        shop_domain=SHOP,
        webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        event_id="5ab2bd4c-2f4e-4b6a-9d3c-0e1f2a3b4c5d",
        triggered_at=triggered_at,
    )


def delivered(outcome: Outcome) -> Write:
    assert isinstance(outcome, Deliver)
    assert_valid(outcome.write)
    return outcome.write


def assert_valid(write: Write) -> None:
    """The write is one the gateway would accept from a storefront for that operation."""
    operation = BY_NAME[write.operation]
    assert set(write.path) == set(operation.path_params)
    assert all(value for value in write.path.values())
    assert set(write.query) <= set(operation.query_params)
    if not operation.has_body:
        assert write.body is None
        return
    assert write.body is not None
    model = BODY_MODELS[write.operation]
    model.model_validate(write.body)
    model.model_validate_json(json.dumps(write.body, allow_nan=False))
    check_limits(operation, write.body)


def session_of(write: Write) -> dict[str, Any]:
    assert write.body is not None
    session: dict[str, Any] = write.body["customerSession"]
    return session


CART_ITEMS = [
    {
        "sku": "39072856",
        "quantity": 2,
        "name": "Organic Cotton T-Shirt - Blue / M",
        "price": 19.99,
        "attributes": {"shopify_sku": "TSHIRT-BLU-M"},
    },
    {"sku": "457924702", "quantity": 1, "name": "Gift Wrapping", "price": 5.0},
]
ORDER_ITEMS = [
    {
        "sku": "39072856",
        "quantity": 2,
        "name": "Organic Cotton T-Shirt",
        "price": 19.99,
        "attributes": {"shopify_sku": "TSHIRT-BLU-M"},
    },
    {"sku": "457924702", "quantity": 1, "name": "Gift Wrapping", "price": 5.0},
    {"sku": "custom-703073504", "quantity": 1, "name": "Custom alteration", "price": 10.0},
]


# carts/create, carts/update


@pytest.mark.parametrize("topic", ["carts/create", "carts/update"])
def test_a_cart_updates_the_open_session_of_its_token(topic: str) -> None:
    # Given a cart whose token carries its ?key= secret
    cart = fixture("cart")
    # When it is mapped
    write = delivered(map_webhook(hook(topic), cart))
    # Then the session named by the token, without the key, gets the cart's items
    assert write.operation == "updateCustomerSessionV2"
    assert write.path == {"customerSessionId": SESSION}
    assert write.query == {}
    assert write.entity == f"session:{SESSION}"
    assert write.kind == "session_update"
    assert write.body == {"customerSession": {"state": "open", "cartItems": CART_ITEMS}}
    assert write.updated_at == datetime(2026, 5, 4, 9, 15, 42, 311000, tzinfo=UTC)


def test_the_sku_attribute_is_named_by_the_configuration() -> None:
    # Given a configured attribute name, when a cart is mapped
    config = ShopifyConfig(sku_attribute="ShopifySku")
    write = delivered(map_webhook(hook("carts/update"), fixture("cart"), config))
    # Then Shopify's SKU travels under it
    assert session_of(write)["cartItems"][0]["attributes"] == {"ShopifySku": "TSHIRT-BLU-M"}


def test_no_sku_attribute_is_sent_when_the_configuration_turns_it_off() -> None:
    config = ShopifyConfig(sku_attribute=None)
    write = delivered(map_webhook(hook("carts/update"), fixture("cart"), config))
    assert all("attributes" not in item for item in session_of(write)["cartItems"])


def test_an_empty_cart_empties_the_session() -> None:
    # Given a cart whose lines were all removed
    cart = fixture("cart") | {"line_items": []}
    # When it is mapped, then the session's items are emptied
    write = delivered(map_webhook(hook("carts/update"), cart))
    assert session_of(write)["cartItems"] == []


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param(1001, id="1001-items"),
        pytest.param(1, id="10001-units"),
    ],
)
def test_a_cart_beyond_talon_ones_limits_is_acknowledged(lines: int) -> None:
    # Given more items, or units, than one request may carry
    cart = fixture("cart")
    line = cart["line_items"][0]
    quantity = 10_001 if lines == 1 else 1
    cart["line_items"] = [
        line | {"id": 1 + i, "variant_id": 1 + i, "quantity": quantity} for i in range(lines)
    ]
    # When it is mapped, then nothing is sent: Talon.One would refuse it every time
    assert map_webhook(hook("carts/update"), cart) == Acknowledge("cart_over_limits")


# checkouts/create, checkouts/update


@pytest.mark.parametrize("topic", ["checkouts/create", "checkouts/update"])
def test_a_checkout_updates_its_carts_session_with_the_customer_and_codes(topic: str) -> None:
    # Given a checkout of a known customer with a discount code (entered twice)
    checkout = fixture("checkout")
    # When it is mapped
    write = delivered(map_webhook(hook(topic), checkout))
    # Then the cart's session gets the items, the profile and the code once
    assert write.path == {"customerSessionId": SESSION}
    assert write.kind == "session_update"
    assert session_of(write) == {
        "state": "open",
        "cartItems": [
            CART_ITEMS[0] | {"name": "Organic Cotton T-Shirt"},
            CART_ITEMS[1],
        ],
        "profileId": CUSTOMER,
        "couponCodes": ["SPRING10"],
    }
    # Offsets and Z compare as instants
    assert write.updated_at == datetime(2026, 5, 4, 9, 21, 30, tzinfo=UTC)


def test_a_checkout_without_cart_token_uses_its_own_token() -> None:
    checkout = fixture("checkout") | {"cart_token": None}
    write = delivered(map_webhook(hook("checkouts/update"), checkout))
    assert write.path == {"customerSessionId": CHECKOUT_TOKEN}
    assert write.entity == f"session:{CHECKOUT_TOKEN}"


def test_a_guest_checkout_has_no_profile() -> None:
    checkout = fixture("checkout") | {"customer": None}
    write = delivered(map_webhook(hook("checkouts/update"), checkout))
    assert "profileId" not in session_of(write)


def test_a_checkout_without_codes_removes_earlier_ones() -> None:
    # Given a checkout whose code was removed: couponCodes [] discards the session's codes
    checkout = fixture("checkout") | {"discount_codes": []}
    write = delivered(map_webhook(hook("checkouts/update"), checkout))
    assert session_of(write)["couponCodes"] == []


def test_a_checkout_filtered_of_its_codes_keeps_the_sessions_codes() -> None:
    # Given a payload without discount_codes (a subscription's include_fields), the field is omitted
    checkout = fixture("checkout")
    del checkout["discount_codes"]
    write = delivered(map_webhook(hook("checkouts/update"), checkout))
    assert "couponCodes" not in session_of(write)


def test_a_code_longer_than_any_coupon_is_left_out() -> None:
    checkout = fixture("checkout") | {"discount_codes": [{"code": "X" * 101}, {"code": "OK"}]}
    write = delivered(map_webhook(hook("checkouts/update"), checkout))
    assert session_of(write)["couponCodes"] == ["OK"]


def test_a_completed_checkout_is_left_to_its_order() -> None:
    checkout = fixture("checkout") | {"completed_at": "2026-05-04T05:25:00-04:00"}
    assert map_webhook(hook("checkouts/update"), checkout) == Acknowledge("checkout_completed")


# orders/create, orders/paid


def test_a_paid_order_closes_its_session_and_is_remembered() -> None:
    # Given an order paid (the default closing topic)
    order = fixture("order")
    # When it is mapped
    outcome = map_webhook(hook("orders/paid"), order)
    write = delivered(outcome)
    # Then the cart's session is closed with the order's items, codes and customer
    assert write.path == {"customerSessionId": SESSION}
    assert write.kind == "session_close"
    assert session_of(write) == {
        "state": "closed",
        "cartItems": ORDER_ITEMS,
        "profileId": CUSTOMER,
        "couponCodes": ["SPRING10"],
    }
    assert write.updated_at == datetime(2026, 5, 4, 9, 25, 3, tzinfo=UTC)
    # And the order's lines are remembered in cart-item order, for its refunds
    assert isinstance(outcome, Deliver)
    assert outcome.remember == RECORD


def test_a_created_order_is_acknowledged_when_paid_orders_close() -> None:
    assert map_webhook(hook("orders/create"), fixture("order")) == Acknowledge("order_topic_not_closing")


def test_the_configuration_can_close_on_created_orders_instead() -> None:
    # Given orders/create configured as the closing topic
    config = ShopifyConfig(closing_order_topic="orders/create")
    # When both order topics arrive, then the created one closes and the paid one is acknowledged
    write = delivered(map_webhook(hook("orders/create"), fixture("order"), config))
    assert session_of(write)["state"] == "closed"
    paid = map_webhook(hook("orders/paid"), fixture("order"), config)
    assert paid == Acknowledge("order_topic_not_closing")


def test_an_order_without_cart_token_closes_its_checkouts_session() -> None:
    order = fixture("order") | {"cart_token": None}
    outcome = map_webhook(hook("orders/paid"), order)
    assert delivered(outcome).path == {"customerSessionId": CHECKOUT_TOKEN}
    assert isinstance(outcome, Deliver)
    assert outcome.remember is not None
    assert outcome.remember.session_id == CHECKOUT_TOKEN


def test_an_order_without_cart_or_checkout_is_acknowledged() -> None:
    # Given a POS or API order: no cart, no checkout, no session to close
    order = fixture("order") | {"cart_token": None, "checkout_token": None}
    assert map_webhook(hook("orders/paid"), order) == Acknowledge("order_without_cart")


def test_a_guest_order_is_remembered_without_profile() -> None:
    outcome = map_webhook(hook("orders/paid"), fixture("order") | {"customer": None})
    assert "profileId" not in session_of(delivered(outcome))
    assert isinstance(outcome, Deliver)
    assert outcome.remember is not None
    assert outcome.remember.profile_id is None


# orders/cancelled


def test_a_cancelled_order_cancels_its_session() -> None:
    # Given a cancelled order, when it is mapped
    write = delivered(map_webhook(hook("orders/cancelled"), fixture("order_cancelled")))
    # Then its session is cancelled, and nothing else is said
    assert write.path == {"customerSessionId": SESSION}
    assert write.kind == "session_cancel"
    assert write.body == {"customerSession": {"state": "cancelled"}}
    assert write.updated_at == datetime(2026, 5, 5, 12, 0, 4, tzinfo=UTC)


# refunds/create


def test_a_refund_returns_its_lines_by_position_in_the_closed_session() -> None:
    # Given a refund of one of two shirts and of the custom line, and the order's record
    refund = fixture("refund")
    assert order_to_load("refunds/create", refund) == ORDER
    # When it is mapped with the record
    write = delivered(map_webhook(hook("refunds/create"), refund, order=RECORD))
    # Then the session's cart items at those positions are returned, once per refund
    assert write.operation == "returnCartItems"
    assert write.path == {"customerSessionId": SESSION}
    assert write.entity == f"session:{SESSION}"
    assert write.kind == "session_return"
    assert write.body == {
        "return": {"returnedCartItems": [{"position": 0, "quantity": 1}, {"position": 2, "quantity": 1}]}
    }
    assert write.idempotency_key == "shopify-refund-929361462"
    # A refund has no updated_at: the trigger time stands in
    assert write.updated_at == TRIGGERED


def test_a_refund_of_an_unknown_order_is_retried_later() -> None:
    # Given no record of the refund's order (its webhook may still be on its way)
    outcome = map_webhook(hook("refunds/create"), fixture("refund"), order=None)
    # Then the caller is told to retry
    assert outcome == UnknownOrder(ORDER)


def test_refunded_lines_of_the_same_item_add_up() -> None:
    refund = fixture("refund")
    first = refund["refund_line_items"][0]
    refund["refund_line_items"] = [first, first | {"id": 1, "quantity": 1}]
    write = delivered(map_webhook(hook("refunds/create"), refund, order=RECORD))
    assert write.body == {"return": {"returnedCartItems": [{"position": 0, "quantity": 2}]}}


def test_a_refund_without_lines_is_acknowledged() -> None:
    # Given a shipping-only refund
    refund = fixture("refund") | {"refund_line_items": []}
    outcome = map_webhook(hook("refunds/create"), refund, order=RECORD)
    assert outcome == Acknowledge("refund_without_items")


def test_a_refund_of_lines_the_session_never_had_is_acknowledged() -> None:
    # Given a refund of the order's quantity-0 line only
    refund = fixture("refund")
    refund["refund_line_items"] = [refund["refund_line_items"][0] | {"line_item_id": 141249953214522974}]
    outcome = map_webhook(hook("refunds/create"), refund, order=RECORD)
    assert outcome == Acknowledge("refund_lines_unknown")


def test_a_record_of_another_order_is_a_programming_error() -> None:
    other = OrderRecord("1", SESSION, ORDER_LINES, None, SHOP)
    with pytest.raises(ValueError, match="not the refund's order"):
        map_webhook(hook("refunds/create"), fixture("refund"), order=other)


def test_only_refunds_need_an_order_record() -> None:
    assert order_to_load("orders/paid", fixture("order")) is None


def test_an_order_record_survives_storage() -> None:
    assert OrderRecord.from_record(json.loads(json.dumps(RECORD.as_record()))) == RECORD
    assert RECORD.position_of("703073504") == 2
    assert RECORD.position_of("141249953214522974") is None


# customers/create, customers/update


@pytest.mark.parametrize("topic", ["customers/create", "customers/update"])
def test_a_customer_updates_its_profile_with_nothing_personal_by_default(topic: str) -> None:
    # Given a customer with an email, a phone, names and addresses
    customer = fixture("customer")
    # When it is mapped with the default configuration
    write = delivered(map_webhook(hook(topic), customer))
    # Then the profile named by the customer's id is updated, and receives no attribute
    assert write.operation == "updateCustomerProfileV2"
    assert write.path == {"integrationId": CUSTOMER}
    assert write.entity == f"profile:{CUSTOMER}"
    assert write.kind == "profile_update"
    assert write.body == {}
    assert write.updated_at == datetime(2026, 5, 4, 9, 25, 2, tzinfo=UTC)


def test_a_configured_mapping_sends_the_fields_it_names() -> None:
    # Given a mapping of non-identifying fields, one nested, one absent, one an object
    config = ShopifyConfig(
        customer_attributes={
            "accepts_marketing": "AcceptsMarketing",
            "tags": "ShopifyTags",
            "orders_count": "OrdersCount",
            "email_marketing_consent.state": "EmailConsent",
            "sms_marketing_consent.state": "SmsConsent",
            "default_address": "Address",
        }
    )
    # When a customer is mapped
    write = delivered(map_webhook(hook("customers/update"), fixture("customer"), config))
    # Then those attributes are sent (tags as a list); nulls and objects are left out
    assert write.body == {
        "attributes": {
            "AcceptsMarketing": True,
            "ShopifyTags": ["VIP", "newsletter"],
            "OrdersCount": 2,
            "EmailConsent": "subscribed",
        }
    }


# customers/redact, customers/data_request, shop/redact, app/uninstalled


def test_a_customer_redaction_erases_the_customer_and_its_order_records() -> None:
    # Given Shopify's redaction request
    outcome = map_webhook(hook("customers/redact"), fixture("customers_redact"))
    # Then Talon.One's customer data is deleted, then the gateway's, and the orders' records
    assert isinstance(outcome, Erase)
    assert outcome.customer_id == CUSTOMER
    assert outcome.order_ids == (ORDER, "450789470")
    assert outcome.write.operation == "deleteCustomerData"
    assert outcome.write.path == {"integrationId": CUSTOMER}
    assert outcome.write.entity == f"profile:{CUSTOMER}"
    assert outcome.write.kind == "customer_erase"
    assert_valid(outcome.write)


def test_a_customer_data_request_exports_the_customers_inventory() -> None:
    outcome = map_webhook(hook("customers/data_request"), fixture("customers_data_request"))
    assert isinstance(outcome, Export)
    assert outcome.customer_id == CUSTOMER
    assert outcome.order_ids == (ORDER,)
    assert outcome.data_request_id == "9999"
    read = outcome.read
    assert read.operation == "getCustomerInventory"
    assert read.path == {"integrationId": CUSTOMER}
    operation = BY_NAME[read.operation]
    assert set(read.path) == set(operation.path_params)
    assert set(read.query) == set(operation.query_params)
    assert all(values == ["true"] for values in read.query.values())


def test_a_data_request_replayed_as_a_redaction_is_refused() -> None:
    # Given a data request's body under the redaction topic (headers are not signed)
    with pytest.raises(InvalidPayload) as caught:
        map_webhook(hook("customers/redact"), fixture("customers_data_request"))
    assert caught.value.pointer == "/data_request"


def test_a_redaction_replayed_as_a_data_request_is_refused() -> None:
    with pytest.raises(InvalidPayload) as caught:
        map_webhook(hook("customers/data_request"), fixture("customers_redact"))
    assert caught.value.pointer == "/orders_to_redact"


def test_a_compliance_payload_of_another_shop_is_refused() -> None:
    payload = fixture("customers_redact") | {"shop_domain": "other-store.myshopify.com"}
    with pytest.raises(InvalidPayload) as caught:
        map_webhook(hook("customers/redact"), payload)
    assert caught.value.pointer == "/shop_domain"


def test_a_customer_update_replayed_as_a_redaction_is_refused() -> None:
    with pytest.raises(InvalidPayload):
        map_webhook(hook("customers/redact"), fixture("customer"))


def test_a_shop_redaction_is_acknowledged() -> None:
    assert map_webhook(hook("shop/redact"), fixture("shop_redact")) == Acknowledge("shop_redact")
    with pytest.raises(InvalidPayload):
        map_webhook(hook("shop/redact"), {"shop_id": 1, "shop_domain": "other.myshopify.com"})


def test_an_uninstall_is_acknowledged() -> None:
    assert map_webhook(hook("app/uninstalled"), fixture("app_uninstalled")) == Acknowledge("app_uninstalled")


@pytest.mark.parametrize(
    "topic", ["products/update", "orders/updated", "orders/fulfilled", "inventory_levels/update"]
)
def test_any_other_topic_is_acknowledged_and_counted(topic: str) -> None:
    assert map_webhook(hook(topic), {"id": 1}) == Acknowledge("unhandled_topic")


# The cart key never leaves


CASES: list[tuple[str, str, OrderRecord | None]] = [
    ("carts/create", "cart", None),
    ("carts/update", "cart", None),
    ("checkouts/create", "checkout", None),
    ("checkouts/update", "checkout", None),
    ("orders/paid", "order", None),
    ("orders/create", "order", None),
    ("orders/cancelled", "order_cancelled", None),
    ("refunds/create", "refund", RECORD),
    ("customers/create", "customer", None),
    ("customers/update", "customer", None),
    ("customers/redact", "customers_redact", None),
    ("customers/data_request", "customers_data_request", None),
    ("shop/redact", "shop_redact", None),
    ("app/uninstalled", "app_uninstalled", None),
]


@pytest.mark.parametrize(("topic", "name", "record"), CASES)
def test_every_write_of_every_fixture_is_valid_for_todays_spec(
    topic: str, name: str, record: OrderRecord | None
) -> None:
    # Given each fixture under its topic, when it is mapped, then what it sends passes validation
    outcome = map_webhook(hook(topic), fixture(name), order=record)
    if isinstance(outcome, Deliver | Erase):
        assert_valid(outcome.write)
    else:
        assert isinstance(outcome, Acknowledge | Export)


@pytest.mark.parametrize(("topic", "name", "record"), CASES)
def test_the_cart_keys_secret_appears_in_nothing_returned(
    topic: str, name: str, record: OrderRecord | None
) -> None:
    # Given payloads whose tokens carry ?key=, when they are mapped
    outcome = map_webhook(hook(topic), fixture(name), order=record)
    # Then the key is in no part of the outcome: fields, body, record, repr
    seen = [repr(outcome)]
    if isinstance(outcome, Deliver):
        seen += [json.dumps(outcome.write.body), json.dumps(outcome.write.path), outcome.write.entity]
        if outcome.remember is not None:
            seen.append(json.dumps(outcome.remember.as_record()))
    assert not any(CART_KEY in text or "?key=" in text for text in seen)


def test_a_writes_repr_leaves_its_body_out() -> None:
    config = ShopifyConfig(customer_attributes={"email": "Email"})
    write = delivered(map_webhook(hook("customers/update"), fixture("customer"), config))
    assert "buyer@example.com" not in repr(write)


@pytest.mark.parametrize(
    ("token", "session"),
    [
        ("c1-7a2abe82733a34e84aa472d57fb5c3c1?key=824bdj25mhg1242bdb385", SESSION),
        ("c1-7a2abe82733a34e84aa472d57fb5c3c1", SESSION),
        ("Z2NwLWV1cm9wZS13ZXN0NDowMUhaMVRaM1ZYSkJFVjJCNjVWMFo4WTdSMw?key=a&other=b", None),
    ],
)
def test_a_session_id_is_the_token_without_its_query(token: str, session: str | None) -> None:
    assert session_id_of(token) == (session or token.partition("?")[0])


@pytest.mark.parametrize("token", ["?key=abc", "", "a b", "a/b", "a\x00b"])
def test_a_token_that_cannot_name_a_session_is_refused(token: str) -> None:
    with pytest.raises(InvalidPayload):
        session_id_of(token)


# Staleness


def test_updated_at_in_an_offset_and_in_z_compare_as_instants() -> None:
    # Given a cart updated in Z and a checkout updated later in an offset
    cart = delivered(map_webhook(hook("carts/update"), fixture("cart")))
    checkout = delivered(map_webhook(hook("checkouts/update"), fixture("checkout")))
    # Then 05:21:30-04:00 is after 09:15:42Z
    assert cart.updated_at is not None
    assert checkout.updated_at is not None
    assert cart.updated_at < checkout.updated_at


def test_without_updated_at_the_trigger_time_is_used() -> None:
    cart = fixture("cart")
    del cart["updated_at"]
    assert delivered(map_webhook(hook("carts/update"), cart)).updated_at == TRIGGERED
    assert delivered(map_webhook(hook("carts/update", None), cart)).updated_at is None


@pytest.mark.parametrize("value", ["2026-05-04T09:15:42", "yesterday", 1746350142])
def test_an_updated_at_that_is_no_instant_is_refused(value: object) -> None:
    cart = fixture("cart") | {"updated_at": value}
    with pytest.raises(InvalidPayload) as caught:
        map_webhook(hook("carts/update"), cart)
    assert caught.value.pointer == "/updated_at"


def _write(kind: str, updated_at: datetime | None) -> Write:
    return Write("updateCustomerSessionV2", {}, {}, None, "session:s", kind, updated_at)  # type: ignore[arg-type]


EARLY = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
LATE = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "updated_at", "last", "state", "reason"),
    [
        ("session_update", EARLY, LATE, "open", "stale"),
        ("session_update", LATE, EARLY, "open", None),
        ("session_update", LATE, LATE, "open", None),  # strictly older only
        ("session_update", None, LATE, "open", None),
        ("session_update", LATE, None, None, None),
        ("session_update", LATE, EARLY, "closed", "session_closed"),
        ("session_update", LATE, EARLY, "partially_returned", "session_closed"),
        ("session_update", LATE, EARLY, "cancelled", "session_cancelled"),
        ("session_close", LATE, EARLY, "open", None),
        ("session_close", EARLY, LATE, "open", "stale"),
        ("session_close", LATE, EARLY, "closed", "session_closed"),
        ("session_close", LATE, EARLY, "cancelled", "session_cancelled"),
        ("session_cancel", LATE, EARLY, "closed", None),
        ("session_cancel", LATE, EARLY, "partially_returned", None),
        ("session_cancel", LATE, EARLY, "cancelled", "session_cancelled"),
        ("session_return", EARLY, LATE, "closed", None),  # returns add up
        ("session_return", LATE, EARLY, "cancelled", "session_cancelled"),
        ("profile_update", EARLY, LATE, None, "stale"),
        ("customer_erase", EARLY, LATE, "cancelled", None),  # never dropped
    ],
)
def test_drop_reason(
    kind: str, updated_at: datetime | None, last: datetime | None, state: Any, reason: str | None
) -> None:
    # Given a write and what was last applied, then it is dropped for this reason, or sent
    assert drop_reason(_write(kind, updated_at), last_applied_at=last, session_state=state) == reason


# Payloads of the wrong shape


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        (lambda cart: cart.pop("token"), "/token"),
        (lambda cart: cart.update(token=42), "/token"),
        (lambda cart: cart.update(line_items=None), "/line_items"),
        (lambda cart: cart["line_items"][0].update(price=19.99), "/line_items/0/price"),
        (lambda cart: cart["line_items"][0].update(price="19,99"), "/line_items/0/price"),
        (lambda cart: cart["line_items"][0].update(price="-1.00"), "/line_items/0/price"),
        (lambda cart: cart["line_items"][1].update(quantity=True), "/line_items/1/quantity"),
        (lambda cart: cart["line_items"][1].update(quantity=-1), "/line_items/1/quantity"),
        (lambda cart: cart["line_items"][1].update(quantity="2"), "/line_items/1/quantity"),
        (
            lambda cart: cart["line_items"][0].update(variant_id="gid://shopify/ProductVariant/1"),
            "/line_items/0/variant_id",
        ),
        (lambda cart: cart["line_items"].append("line"), "/line_items/2"),
    ],
)
def test_a_cart_of_the_wrong_shape_is_refused_with_a_pointer(change: Any, pointer: str) -> None:
    # Given a verified cart with one part of the wrong shape
    cart = copy.deepcopy(fixture("cart"))
    change(cart)
    # When it is mapped, then it is refused there, and the value is not echoed
    with pytest.raises(InvalidPayload) as caught:
        map_webhook(hook("carts/update"), cart)
    assert caught.value.pointer == pointer
    assert caught.value.problems[0].pointer == pointer


def test_an_order_line_without_id_is_refused() -> None:
    order = fixture("order")
    del order["line_items"][0]["id"]
    with pytest.raises(InvalidPayload) as caught:
        map_webhook(hook("orders/paid"), order)
    assert caught.value.pointer == "/line_items/0/id"


def test_a_payload_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidPayload):
        map_webhook(hook("carts/update"), [])  # type: ignore[arg-type]


# Configuration


def test_the_default_configuration() -> None:
    config = ShopifyConfig.model_validate_json("{}")
    assert config.closing_order_topic == "orders/paid"
    assert config.sku_attribute == "shopify_sku"
    assert config.customer_attributes == {}


@pytest.mark.parametrize(
    "document",
    [
        {"closing_order_topic": "orders/fulfilled"},
        {"sku_attribute": ""},
        {"sku_attribute": "shopify sku"},
        {"customer_attributes": {"Email": "Email"}},
        {"customer_attributes": {"tags": "has space"}},
        {"customer_attributes": {"tags": "Tags", "note": "Tags"}},
        {"unknown": True},
    ],
)
def test_a_malformed_configuration_is_refused(document: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ShopifyConfig.model_validate(document)


def test_the_source_is_pure() -> None:
    # Given a fresh interpreter, when the Shopify source is imported
    probe = (
        "import sys; import talon_gateway.sources.shopify; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'boto3', 'botocore', 'httpx', 'aws_lambda_powertools', 'urllib3'}))"
    )
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=root / "shared"
    )
    # Then no AWS or HTTP client comes with it
    assert result.stdout.strip() == "[]"
