"""The gateway's own routes, beside Talon.One's operations (operations.py)."""

from __future__ import annotations

from talon_gateway.operation import Operation

# GET /deliveries/{deliveryId}: the state of an asynchronous delivery (Prefer: respond-async).
GET_DELIVERY = Operation(
    name="getDelivery",
    method="GET",
    path="/deliveries/{deliveryId}",
    has_body=False,
    successes=((200, None),),
    tag="Deliveries",
    requires_api_key=False,
)
