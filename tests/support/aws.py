"""AWS through moto's server mode on loopback: boto3 talks real HTTP to it (AWS_ENDPOINT_URL)."""

from __future__ import annotations

from typing import Any

from local_gateway import aws_resources
from local_gateway.shopify import LOCAL_SHOPIFY_SECRET

REGION = "eu-west-1"
# Credentials of the test deployment. The application key and id are the test vectors of
# Talon.One's contract (spec/README.md), so signatures can be checked against known values.
API_KEY = "test-api-key-0001"
APPLICATION_ID = "42"
APPLICATION_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
BEARER_TOKEN = "local-dev-token-not-a-secret-0001"  # the token of events/*.json
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SHOPIFY_SECRET = LOCAL_SHOPIFY_SECRET  # the Shopify app's client secret
TALON_SECRET_ID = "talon-gateway/talon-credentials"
INBOUND_SECRET_ID = "talon-gateway/inbound"
IDEMPOTENCY_TABLE = "talon-gateway-idempotency"
STATE_TABLE = "talon-gateway-state"
BUCKET = "talon-gateway-bucket"
QUEUES = {
    "DeliveryQueue": "talon-gateway-deliveries.fifo",
    "DeadLetterQueue": "talon-gateway-dead-letters.fifo",
}
# Deliveries give up sooner than in production, and wait a second between attempts
DELIVERY_PARAMETERS = {"MaxReceiveCount": "3", "MaxBackoffSeconds": "1"}
# The queues' URLs once provisioned (moto's URLs embed its port)
QUEUE_URLS: dict[str, str] = {}


class MotoServer:
    def __init__(self) -> None:
        self._server = aws_resources.SerialMotoServer(ip_address="127.0.0.1", port=0, verbose=False)

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.stop()


def talon_credentials(**override: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "apiKey": API_KEY,
        "applicationId": APPLICATION_ID,
        "applicationKey": APPLICATION_KEY,
    }
    value.update(override)
    return {k: v for k, v in value.items() if v is not None}


def inbound_secrets(**override: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "webhookSecrets": [WEBHOOK_SECRET],
        "bearerTokens": [BEARER_TOKEN],
        "shopifyWebhookSecrets": [SHOPIFY_SECRET],
    }
    value.update(override)
    return value


def set_talon_credentials(endpoint: str, value: dict[str, Any]) -> None:
    aws_resources.put_secrets(endpoint, REGION, {"TalonSecret": (TALON_SECRET_ID, value)})


def set_inbound_secrets(endpoint: str, value: dict[str, Any]) -> None:
    aws_resources.put_secrets(endpoint, REGION, {"InboundSecret": (INBOUND_SECRET_ID, value)})


def provision(endpoint: str) -> None:
    """The test deployment: template.yaml's secrets and table, with the values above."""
    set_talon_credentials(endpoint, talon_credentials())
    set_inbound_secrets(endpoint, inbound_secrets())
    aws_resources.create_tables(
        endpoint, REGION, {"IdempotencyTable": IDEMPOTENCY_TABLE, "StateTable": STATE_TABLE}
    )
    aws_resources.create_buckets(endpoint, REGION, {"GatewayBucket": BUCKET})
    QUEUE_URLS.update(aws_resources.create_queues(endpoint, REGION, QUEUES, DELIVERY_PARAMETERS))
