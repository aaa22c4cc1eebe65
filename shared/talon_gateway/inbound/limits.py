"""Talon.One's limits on a cart, checked before Talon.One is asked: at most 1,000 cart items and
a total quantity of 10,000 per request (spec/current: NewCustomerSessionV2.cartItems).

They span many fields (a sum of quantities), which a field's JSON Schema cannot say, so they
are checked on the parsed document, once, with the pointer of the offending array.
"""

from __future__ import annotations

from typing import Any

from talon_gateway.errors import FieldProblem, InvalidRequest
from talon_gateway.operation import Operation

MAX_CART_ITEMS = 1_000
MAX_TOTAL_QUANTITY = 10_000


def check_limits(operation: Operation, document: Any) -> None:
    if operation.cart_items_at is None or not isinstance(document, dict):
        return
    node: Any = document
    for name in operation.cart_items_at:
        node = node.get(name) if isinstance(node, dict) else None
    if not isinstance(node, list):
        return  # absent, or of the wrong type: the model reports it
    pointer = "/" + "/".join(operation.cart_items_at)
    if len(node) > MAX_CART_ITEMS:
        raise InvalidRequest(
            [
                FieldProblem(
                    "Too many cart items", f"At most {MAX_CART_ITEMS} cart items per request", pointer=pointer
                )
            ]
        )
    total = sum(
        item["quantity"] for item in node if isinstance(item, dict) and type(item.get("quantity")) is int
    )
    if total > MAX_TOTAL_QUANTITY:
        raise InvalidRequest(
            [
                FieldProblem(
                    "Too many units",
                    f"The cart items' quantities add up to more than {MAX_TOTAL_QUANTITY}",
                    pointer=pointer,
                )
            ]
        )
