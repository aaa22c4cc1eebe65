"""shopifyWebhook: POST /webhooks/shopify, Shopify's webhooks verified, mapped and queued.

The HMAC is checked before the body is parsed; the answer (202, or 200 for topics that send
nothing) comes once the job is queued, whatever Talon.One is doing; the delivery worker sends
it (talon_gateway/api/shopify.py, talon_gateway/delivery/shopify.py).
"""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from talon_gateway.api import shopify
from talon_gateway.api.app import build_app
from talon_gateway.api.routes import SHOPIFY_WEBHOOK as OPERATION

router = APIGatewayRouter()


@router.post(
    OPERATION.route,
    operation_id=OPERATION.name,
    summary="Receive a Shopify webhook",
    description=(
        "Subscribe this URL to the store's webhooks. Shopify signs the raw body: "
        "X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 with the app's client secret "
        "(shopifyWebhookSecrets of INBOUND_SECRET_ID, several while rotating), checked before "
        "anything is parsed. X-Shopify-Topic, X-Shopify-Shop-Domain and X-Shopify-Event-Id (else "
        "X-Shopify-Webhook-Id) are required, X-Shopify-Triggered-At optional; the unprefixed "
        "shopify-* forms are read too. Each event is queued once per shop and topic and delivered "
        "to the shop's Talon.One application by the worker (README, Shopify)."
    ),
    responses=shopify.responses(),
    tags=[OPERATION.tag],
)
def shopify_webhook() -> Response[str]:
    return shopify.serve(app)


app = build_app(router)
lambda_handler = shopify.lambda_handler_for_shopify(app)
