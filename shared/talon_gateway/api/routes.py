"""The gateway's own routes, beside Talon.One's operations (operations.py)."""

from __future__ import annotations

from talon_gateway.operation import Operation

# The success "schema" of GET /deliveries/{deliveryId}: the gateway's own model
# (api/docs.py: DeliveryOutcome), not one of Talon.One's.
DELIVERY = "gateway:Delivery"

# GET /deliveries/{deliveryId}: the state of an asynchronous delivery (Prefer: respond-async).
GET_DELIVERY = Operation(
    name="getDelivery",
    method="GET",
    path="/deliveries/{deliveryId}",
    has_body=False,
    successes=((200, DELIVERY),),
    tag="Deliveries",
    requires_api_key=False,
    local=True,
    scoped=False,
)

# POST /webhooks/shopify: Shopify's webhooks, verified and queued (api/shopify.py).
SHOPIFY_WEBHOOK = Operation(
    name="shopifyWebhook",
    method="POST",
    path="/webhooks/shopify",
    has_body=True,
    successes=((200, None), (202, None)),
    tag="Storefront webhooks",
    requires_api_key=False,
    local=True,
)
