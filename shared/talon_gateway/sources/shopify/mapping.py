"""Shopify webhook payloads (REST resource shapes) -> what to send to Talon.One.

Pure: ``map_webhook`` takes the verified headers, the parsed payload, the configuration and,
for a refund, the order record remembered when the order closed its session, and answers one
``Outcome``; the caller sends, stores and counts. See README.md in this folder for the table.

Payloads are read strictly where the mapping depends on them (ids, tokens, quantities, prices):
a verified payload of the wrong shape raises ``InvalidPayload``, which no retry would cure. The
headers are not signed, so each topic also checks the payload is of its own resource: a body
captured under one topic cannot be replayed as another (a data request as an erasure).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from talon_gateway.inbound.limits import MAX_CART_ITEMS, MAX_TOTAL_QUANTITY
from talon_gateway.sources.shopify.config import ShopifyConfig
from talon_gateway.sources.shopify.errors import InvalidPayload
from talon_gateway.sources.shopify.verify import ShopifyWebhook, parse_instant

WriteKind = Literal[
    "session_update",  # cart or checkout contents on an open session
    "session_close",
    "session_cancel",
    "session_return",
    "profile_update",
    "customer_erase",
]
AckReason = Literal[
    "order_topic_not_closing",  # the order topic the configuration does not close sessions on
    "order_without_cart",  # POS, draft and API orders: no cart or checkout token, no session
    "order_cancelled",  # an order topic for an order already cancelled: it closes nothing
    "checkout_completed",  # its order closes the session
    "cart_over_limits",  # more than Talon.One takes in one request: refused however often sent
    "refund_without_items",  # shipping or amount-only refunds: nothing to return
    "refund_lines_unknown",  # only lines that were not in the closed session
    "shop_redact",
    "app_uninstalled",
    "unhandled_topic",
]
SessionState = Literal["open", "closed", "partially_returned", "cancelled"]
DropReason = Literal["stale", "session_closed", "session_cancelled"]

UPDATE_SESSION = "updateCustomerSessionV2"
RETURN_CART_ITEMS = "returnCartItems"
UPDATE_PROFILE = "updateCustomerProfileV2"
DELETE_CUSTOMER_DATA = "deleteCustomerData"
GET_CUSTOMER_INVENTORY = "getCustomerInventory"

_NUMERIC_ID = re.compile(r"[0-9]{1,20}")
# Printable ASCII without space and the characters that would end or escape a path segment.
_SESSION_ID = re.compile(r"[!$&'()*+,\-.0-9:;=@A-Z\[\]^_`a-z{|}~]{1,1000}")
_DECIMAL = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,10})?")
_MAX_COUPON = 100  # Talon.One's CouponCode: longer codes cannot be its coupons
_PAST_OPEN = frozenset({"closed", "partially_returned"})
_INVENTORY_QUERY = ("profile", "referrals", "coupons", "loyalty", "giveaways", "achievements")


@dataclass(frozen=True, slots=True)
class Write:
    """One Integration API write, ready to validate and send."""

    operation: str  # Talon.One's operationId
    path: dict[str, str]
    query: dict[str, list[str]]
    body: dict[str, Any] | None = field(repr=False)  # may hold attributes: kept out of logs
    entity: str  # ordering key: "session:<id>" or "profile:<id>"; one entity's writes in sequence
    kind: WriteKind
    updated_at: datetime | None  # the payload's updated_at, else X-Shopify-Triggered-At
    idempotency_key: str | None = None  # for the Idempotency-Key header (returns)


@dataclass(frozen=True, slots=True)
class Read:
    """One Integration API read."""

    operation: str
    path: dict[str, str]
    query: dict[str, list[str]]
    entity: str


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """What a refund needs of its order: a refund names only the order and its line items."""

    order_id: str
    session_id: str
    # The order's line item ids in cart-item order: a line's index is its cart item's position.
    line_item_ids: tuple[str, ...]
    profile_id: str | None  # so that erasing the customer finds the record
    shop_domain: str

    def position_of(self, line_item_id: str) -> int | None:
        try:
            return self.line_item_ids.index(line_item_id)
        except ValueError:
            return None

    def as_record(self) -> dict[str, Any]:
        return {
            "orderId": self.order_id,
            "sessionId": self.session_id,
            "lineItemIds": list(self.line_item_ids),
            "profileId": self.profile_id,
            "shopDomain": self.shop_domain,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> OrderRecord:
        return cls(
            order_id=record["orderId"],
            session_id=record["sessionId"],
            line_item_ids=tuple(record["lineItemIds"]),
            profile_id=record.get("profileId"),
            shop_domain=record["shopDomain"],
        )


@dataclass(frozen=True, slots=True)
class Deliver:
    """Send ``write``; once it succeeded, store ``remember`` (keyed by its order id)."""

    write: Write
    remember: OrderRecord | None = None


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """Answer 2xx and send nothing, counted under ``reason`` (Shopify would retry anything else)."""

    reason: AckReason


@dataclass(frozen=True, slots=True)
class Erase:
    """customers/redact: ``write`` (deleteCustomerData), then the gateway's own erasure of the
    customer, and the order records of ``order_ids``."""

    customer_id: str
    write: Write
    order_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Export:
    """customers/data_request: what Talon.One holds (``read``, the customer's inventory) and
    the order records of ``order_ids``, for the merchant to hand to the customer."""

    customer_id: str
    read: Read
    order_ids: tuple[str, ...]
    data_request_id: str | None


@dataclass(frozen=True, slots=True)
class UnknownOrder:
    """A refund of an order whose record is not (yet) stored: retry later, the order's own
    webhook may still be on its way."""

    order_id: str


Outcome = Deliver | Acknowledge | Erase | Export | UnknownOrder


def order_to_load(topic: str, payload: Mapping[str, Any]) -> str | None:
    """The order record ``map_webhook`` needs for this webhook, by order id (refunds only)."""
    if topic != "refunds/create":
        return None
    return _numeric_id(_object(payload, "").get("order_id"), "/order_id")


def session_id_of(token: str, pointer: str = "/token") -> str:
    """A cart token as a session id: without its ``?key=…`` suffix, which is a secret (it
    authorizes changes to the cart) and not part of the cart's identity."""
    session = token.partition("?")[0]
    if not _SESSION_ID.fullmatch(session):
        raise InvalidPayload(pointer, "Not a cart or checkout token")
    return session


def map_webhook(
    webhook: ShopifyWebhook,
    payload: Mapping[str, Any],
    config: ShopifyConfig | None = None,
    *,
    order: OrderRecord | None = None,
) -> Outcome:
    """What to do for one verified webhook. ``order`` is the record ``order_to_load`` names."""
    if config is None:
        config = ShopifyConfig()
    payload = _object(payload, "")
    acknowledged = _ACKNOWLEDGED.get(webhook.topic)
    if acknowledged is not None:
        if webhook.topic == "shop/redact":
            _check_shop(webhook, payload)
        return Acknowledge(acknowledged)
    handler = _HANDLERS.get(webhook.topic)
    if handler is None:
        return Acknowledge("unhandled_topic")
    return handler(webhook, payload, config, order)


def drop_reason(
    write: Write, *, last_applied_at: datetime | None, session_state: SessionState | None
) -> DropReason | None:
    """Why the caller should not send ``write`` after all, or None.

    ``last_applied_at`` is the latest ``updated_at`` of a write already applied to the same
    entity (returns and erasures excluded), ``session_state`` what the caller last made of the
    session (None when unknown). A write strictly older than the last applied one is stale
    (Shopify keeps no order between webhooks); cart and checkout contents, and a second close,
    never touch a closed session; no session write touches a cancelled one. Returns add up and
    are never stale (their idempotency key deduplicates them); an erasure is never dropped.
    """
    if write.kind in ("session_update", "session_close") and session_state in _PAST_OPEN:
        return "session_closed"
    if write.kind.startswith("session_") and session_state == "cancelled":
        return "session_cancelled"  # the end: nothing else applies to a cancelled session
    if (
        write.kind in ("session_update", "session_close", "session_cancel", "profile_update")
        and write.updated_at is not None
        and last_applied_at is not None
        and write.updated_at < last_applied_at
    ):
        return "stale"
    return None


# Topics


# Fields of checkouts and orders that a cart never has: a body captured under one of their
# topics is refused as a cart (the topic header is not signed).
_NOT_A_CART = ("cart_token", "checkout_token", "order_number")


def _cart(
    webhook: ShopifyWebhook, cart: dict[str, Any], config: ShopifyConfig, _order: OrderRecord | None
) -> Outcome:
    for name in _NOT_A_CART:
        if name in cart:
            raise InvalidPayload(f"/{name}", "A cart has no such field: not a cart")
    session = session_id_of(_string(cart.get("token"), "/token"))
    items, _ = _cart_items(cart, config, ids_needed=False)
    if items is None:
        return Acknowledge("cart_over_limits")
    return Deliver(
        _session_write(session, {"state": "open", "cartItems": items}, "session_update", webhook, cart)
    )


def _checkout(
    webhook: ShopifyWebhook, checkout: dict[str, Any], config: ShopifyConfig, _order: OrderRecord | None
) -> Outcome:
    if checkout.get("completed_at") is not None:
        return Acknowledge("checkout_completed")
    session = _session_of(checkout, "token")
    if session is None:
        raise InvalidPayload("/token", "A checkout needs a token")
    items, _ = _cart_items(checkout, config, ids_needed=False)
    if items is None:
        return Acknowledge("cart_over_limits")
    state: dict[str, Any] = {"state": "open", "cartItems": items}
    _add_profile_and_codes(state, checkout)
    return Deliver(_session_write(session, state, "session_update", webhook, checkout))


def _order_closed(
    webhook: ShopifyWebhook, order: dict[str, Any], config: ShopifyConfig, _order: OrderRecord | None
) -> Outcome:
    if webhook.topic != config.closing_order_topic:
        return Acknowledge("order_topic_not_closing")
    order_id = _numeric_id(order.get("id"), "/id")
    if order.get("cancelled_at") is not None:
        # Shopify sends an order topic with the order as it was then: a cancelled one does not
        # close a session (and an order/cancelled body is not an order/paid one).
        return Acknowledge("order_cancelled")
    session = _session_of(order, "checkout_token")
    if session is None:
        return Acknowledge("order_without_cart")
    items, line_ids = _cart_items(order, config, ids_needed=True)
    if items is None:
        return Acknowledge("cart_over_limits")
    state: dict[str, Any] = {"state": "closed", "cartItems": items}
    profile_id = _add_profile_and_codes(state, order)
    record = OrderRecord(order_id, session, line_ids, profile_id, webhook.shop_domain)
    return Deliver(_session_write(session, state, "session_close", webhook, order), remember=record)


def _order_cancelled(
    webhook: ShopifyWebhook, order: dict[str, Any], _config: ShopifyConfig, _order: OrderRecord | None
) -> Outcome:
    _numeric_id(order.get("id"), "/id")
    cancelled_at = order.get("cancelled_at")
    if not isinstance(cancelled_at, str) or parse_instant(cancelled_at) is None:
        # A cancelled order says when: a paid order's or a checkout's body is not one.
        raise InvalidPayload("/cancelled_at", "A cancelled order has a cancellation date-time")
    session = _session_of(order, "checkout_token")
    if session is None:
        return Acknowledge("order_without_cart")
    return Deliver(_session_write(session, {"state": "cancelled"}, "session_cancel", webhook, order))


def _refund(
    webhook: ShopifyWebhook, refund: dict[str, Any], _config: ShopifyConfig, order: OrderRecord | None
) -> Outcome:
    refund_id = _numeric_id(refund.get("id"), "/id")
    order_id = _numeric_id(refund.get("order_id"), "/order_id")
    if order is None:
        return UnknownOrder(order_id)
    if order.order_id != order_id:
        raise ValueError("the order record given is not the refund's order")
    lines = _list(refund.get("refund_line_items", []), "/refund_line_items")
    if not lines:
        return Acknowledge("refund_without_items")
    returned: dict[int, int] = {}
    for index, raw in enumerate(lines):
        pointer = f"/refund_line_items/{index}"
        line = _object(raw, pointer)
        line_id = _numeric_id(line.get("line_item_id"), f"{pointer}/line_item_id")
        quantity = _count(line.get("quantity"), f"{pointer}/quantity")
        position = order.position_of(line_id)
        # A line absent from the closed session (added by an order edit, or of quantity 0)
        # has no cart item to return.
        if position is not None and quantity > 0:
            returned[position] = returned.get(position, 0) + quantity
    if not returned:
        return Acknowledge("refund_lines_unknown")
    body = {
        "return": {
            "returnedCartItems": [
                {"position": position, "quantity": count} for position, count in sorted(returned.items())
            ]
        }
    }
    return Deliver(
        Write(
            operation=RETURN_CART_ITEMS,
            path={"customerSessionId": order.session_id},
            query={},
            body=body,
            entity=f"session:{order.session_id}",
            kind="session_return",
            updated_at=_updated_at(webhook, refund),
            # The refund is the return: a retry after a lost answer must not return twice.
            idempotency_key=f"shopify-refund-{refund_id}",
        )
    )


def _customer(
    webhook: ShopifyWebhook, customer: dict[str, Any], config: ShopifyConfig, _order: OrderRecord | None
) -> Outcome:
    customer_id = _numeric_id(customer.get("id"), "/id")
    attributes: dict[str, Any] = {}
    for path, attribute in config.customer_attributes.items():
        value = _attribute_value(customer, path)
        if value is not None:
            attributes[attribute] = value
    return Deliver(
        Write(
            operation=UPDATE_PROFILE,
            path={"integrationId": customer_id},
            query={},
            body={"attributes": attributes} if attributes else {},
            entity=f"profile:{customer_id}",
            kind="profile_update",
            updated_at=_updated_at(webhook, customer),
        )
    )


def _redact(
    webhook: ShopifyWebhook, payload: dict[str, Any], _config: ShopifyConfig, _order: OrderRecord | None
) -> Outcome:
    _check_shop(webhook, payload)
    if "data_request" in payload:
        raise InvalidPayload("/data_request", "A redaction request holds no data request")
    customer_id = _compliance_customer(payload)
    order_ids = _order_ids(payload, "orders_to_redact")
    write = Write(
        operation=DELETE_CUSTOMER_DATA,
        path={"integrationId": customer_id},
        query={},
        body=None,
        entity=f"profile:{customer_id}",
        kind="customer_erase",
        updated_at=webhook.triggered_at,
    )
    return Erase(customer_id, write, order_ids)


def _data_request(
    webhook: ShopifyWebhook, payload: dict[str, Any], _config: ShopifyConfig, _order: OrderRecord | None
) -> Outcome:
    _check_shop(webhook, payload)
    if "orders_to_redact" in payload:
        raise InvalidPayload("/orders_to_redact", "A data request holds no orders to redact")
    customer_id = _compliance_customer(payload)
    order_ids = _order_ids(payload, "orders_requested")
    request = _object(payload.get("data_request"), "/data_request")
    request_id = None
    if request.get("id") is not None:
        request_id = _numeric_id(request["id"], "/data_request/id")
    read = Read(
        operation=GET_CUSTOMER_INVENTORY,
        path={"integrationId": customer_id},
        query={name: ["true"] for name in _INVENTORY_QUERY},
        entity=f"profile:{customer_id}",
    )
    return Export(customer_id, read, order_ids, request_id)


_Handler = Callable[[ShopifyWebhook, dict[str, Any], ShopifyConfig, OrderRecord | None], Outcome]
_HANDLERS: dict[str, _Handler] = {
    "carts/create": _cart,
    "carts/update": _cart,
    "checkouts/create": _checkout,
    "checkouts/update": _checkout,
    "orders/create": _order_closed,
    "orders/paid": _order_closed,
    "orders/cancelled": _order_cancelled,
    "refunds/create": _refund,
    "customers/create": _customer,
    "customers/update": _customer,
    "customers/redact": _redact,
    "customers/data_request": _data_request,
}
_ACKNOWLEDGED: dict[str, AckReason] = {"shop/redact": "shop_redact", "app/uninstalled": "app_uninstalled"}


# Parts


def _session_write(
    session: str, state: dict[str, Any], kind: WriteKind, webhook: ShopifyWebhook, payload: dict[str, Any]
) -> Write:
    return Write(
        operation=UPDATE_SESSION,
        path={"customerSessionId": session},
        query={},
        body={"customerSession": state},
        entity=f"session:{session}",
        kind=kind,
        updated_at=_updated_at(webhook, payload),
    )


def _session_of(resource: dict[str, Any], fallback: str) -> str | None:
    """The cart token, else the resource's other token (a checkout's own, an order's checkout's)."""
    for name in ("cart_token", fallback):
        value = resource.get(name)
        if value is None or value == "":
            continue
        return session_id_of(_string(value, f"/{name}"), f"/{name}")
    return None


def _cart_items(
    resource: dict[str, Any], config: ShopifyConfig, *, ids_needed: bool
) -> tuple[list[dict[str, Any]] | None, tuple[str, ...]]:
    """Talon.One cart items from ``line_items`` and, in the same order, the lines' ids (an
    order's lines have one; a cart's or a checkout's need not); None for the items when they
    exceed what one request may carry."""
    lines = _list(resource.get("line_items"), "/line_items")
    items: list[dict[str, Any]] = []
    line_ids: list[str] = []
    for index, raw in enumerate(lines):
        pointer = f"/line_items/{index}"
        line = _object(raw, pointer)
        quantity = _count(line.get("quantity"), f"{pointer}/quantity")
        if quantity == 0:
            continue  # Talon.One takes 1 or more; a removed line has nothing to say
        line_id = None
        if ids_needed or line.get("id") is not None:
            line_id = _numeric_id(line.get("id"), f"{pointer}/id")
        variant = line.get("variant_id")
        if variant is not None or line_id is None:
            sku = _numeric_id(variant, f"{pointer}/variant_id")
        else:
            # Custom lines (draft orders, POS) have no variant: named by their line, so that
            # the cart's total stays whole and a rule can still tell them apart.
            sku = f"custom-{line_id}"
        item: dict[str, Any] = {"sku": sku, "quantity": quantity}
        title = line.get("title")
        if isinstance(title, str) and title:
            item["name"] = title
        item["price"] = _price(line.get("price"), f"{pointer}/price")
        shopify_sku = line.get("sku")
        if config.sku_attribute is not None and isinstance(shopify_sku, str) and shopify_sku.strip():
            item["attributes"] = {config.sku_attribute: shopify_sku}
        items.append(item)
        if line_id is not None:
            line_ids.append(line_id)
    if len(items) > MAX_CART_ITEMS or sum(item["quantity"] for item in items) > MAX_TOTAL_QUANTITY:
        return None, ()
    return items, tuple(line_ids)


def _add_profile_and_codes(state: dict[str, Any], resource: dict[str, Any]) -> str | None:
    profile_id = None
    customer = resource.get("customer")
    if customer is not None:
        customer_id = _object(customer, "/customer").get("id")
        if customer_id is not None:  # a redacted customer keeps an object without an id
            profile_id = _numeric_id(customer_id, "/customer/id")
            state["profileId"] = profile_id
    if "discount_codes" in resource:
        # Sent even when empty: a code removed in Shopify is then removed in Talon.One too
        # (an absent field, as in a payload filtered of it, keeps the session's codes).
        state["couponCodes"] = _coupon_codes(resource["discount_codes"])
    return profile_id


def _coupon_codes(raw: Any) -> list[str]:
    codes: list[str] = []
    for index, entry in enumerate(_list(raw, "/discount_codes")):
        code = _object(entry, f"/discount_codes/{index}").get("code")
        if not isinstance(code, str):
            raise InvalidPayload(f"/discount_codes/{index}/code", "A discount code must be text")
        # Longer than any Talon.One coupon: a Shopify-only code, which would fail the request.
        if code and len(code) <= _MAX_COUPON and code not in codes:
            codes.append(code)
    return codes


def _attribute_value(customer: dict[str, Any], path: str) -> Any:
    """The customer's field at ``path``, as a Talon.One attribute value, or None to leave out.

    Scalars pass as Shopify sends them; Shopify's comma-separated ``tags`` become a list of
    strings; objects, lists of objects and nulls are left out.
    """
    node: Any = customer
    for name in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(name)
    if path == "tags" and isinstance(node, str):
        return [tag.strip() for tag in node.split(",") if tag.strip()]
    if isinstance(node, bool | int | str):
        return node
    if isinstance(node, float):
        return node if math.isfinite(node) else None
    if isinstance(node, list) and all(isinstance(v, str) for v in node):
        return node
    return None


def _check_shop(webhook: ShopifyWebhook, payload: dict[str, Any]) -> None:
    shop = payload.get("shop_domain")
    if not isinstance(shop, str) or shop.lower() != webhook.shop_domain:
        raise InvalidPayload("/shop_domain", "The payload's shop is not the header's")


def _compliance_customer(payload: dict[str, Any]) -> str:
    return _numeric_id(_object(payload.get("customer"), "/customer").get("id"), "/customer/id")


def _order_ids(payload: dict[str, Any], name: str) -> tuple[str, ...]:
    listed = _list(payload.get(name, []), f"/{name}")
    return tuple(_numeric_id(value, f"/{name}/{index}") for index, value in enumerate(listed))


def _updated_at(webhook: ShopifyWebhook, payload: dict[str, Any]) -> datetime | None:
    raw = payload.get("updated_at")
    if raw is None:
        return webhook.triggered_at
    instant = parse_instant(raw) if isinstance(raw, str) else None
    if instant is None:
        raise InvalidPayload("/updated_at", "Not a date-time with an offset")
    return instant


# Values


def _object(value: Any, pointer: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidPayload(pointer, "Must be an object")
    return value


def _list(value: Any, pointer: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise InvalidPayload(pointer, "Must be an array")
    return value


def _string(value: Any, pointer: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidPayload(pointer, "Must be a non-empty string")
    return value


def _numeric_id(value: Any, pointer: str) -> str:
    """A Shopify id (a JSON integer, or its digits as a string) as a string."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**20:
        return str(value)
    if isinstance(value, str) and _NUMERIC_ID.fullmatch(value) and int(value) > 0:
        return value
    raise InvalidPayload(pointer, "Must be a Shopify id")


def _count(value: Any, pointer: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
        return value
    raise InvalidPayload(pointer, "Must be a non-negative integer")


def _price(value: Any, pointer: str) -> float:
    """A Shopify money amount (a decimal string such as "19.99") as a JSON number."""
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return float(value)
    raise InvalidPayload(pointer, "Must be a decimal amount such as 19.99")
