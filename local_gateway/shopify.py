"""Send a signed Shopify webhook to the gateway, as Shopify does (make shopify).

    python -m local_gateway.shopify orders/paid fixtures/order.json
    make shopify ARGS="orders/paid fixtures/order.json"

The body is sent byte for byte as the file holds it, signed with the local runner's Shopify
client secret (or --secret / SHOPIFY_CLIENT_SECRET for a deployed gateway), with Shopify's
headers: topic, shop domain, webhook id, event id, triggered-at, API version. A file not found
as given is looked up in tests/fixtures/shopify/ by its name. Prints the status and the body.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "shopify"
# The local runner's (and the tests') Shopify client secret: not a real credential.
LOCAL_SHOPIFY_SECRET = "local-shopify-client-secret-not-a-secret-01"  # noqa: S105
LOCAL_SHOP = "example-store.myshopify.com"
API_VERSION = "2025-10"


def hmac_header(body: bytes, secret: str) -> str:
    """X-Shopify-Hmac-Sha256: base64 of HMAC-SHA256 of the raw body, keyed on the client secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_headers(
    topic: str,
    body: bytes,
    *,
    secret: str = LOCAL_SHOPIFY_SECRET,
    shop: str = LOCAL_SHOP,
    event_id: str | None = None,
    webhook_id: str | None = None,
    triggered_at: datetime | None = None,
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": hmac_header(body, secret),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": (triggered_at or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "X-Shopify-API-Version": API_VERSION,
    }


def api_gateway_event(headers: dict[str, str], body: bytes, *, base64_body: bool = False) -> dict[str, Any]:
    """The event API Gateway (REST, proxy integration) gives the function for this request."""
    return {
        "resource": "/webhooks/shopify",
        "path": "/webhooks/shopify",
        "httpMethod": "POST",
        "headers": dict(headers),
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "httpMethod": "POST",
            "path": "/v1/webhooks/shopify",
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "resourcePath": "/webhooks/shopify",
            "stage": "v1",
            "identity": {"sourceIp": "203.0.113.20", "userAgent": "Shopify-Captain-Hook"},
        },
        "body": base64.b64encode(body).decode() if base64_body else body.decode(),
        "isBase64Encoded": base64_body,
    }


def fixture(name: str) -> Path:
    path = Path(name)
    if path.is_file():
        return path
    found = FIXTURES / path.name
    if found.is_file():
        return found
    raise SystemExit(f"{name}: no such file (nor {found.relative_to(ROOT)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make shopify", description=__doc__.split("\n\n")[0])
    parser.add_argument("topic", help="the webhook topic, e.g. orders/paid")
    parser.add_argument("file", help="the payload, e.g. fixtures/order.json (tests/fixtures/shopify/)")
    parser.add_argument("--url", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:3000"))
    parser.add_argument("--shop", default=os.environ.get("SHOPIFY_SHOP", LOCAL_SHOP))
    parser.add_argument("--secret", default=os.environ.get("SHOPIFY_CLIENT_SECRET", LOCAL_SHOPIFY_SECRET))
    parser.add_argument("--event-id", help="reuse an event id (a duplicate delivery)")
    args = parser.parse_args(argv)
    body = fixture(args.file).read_bytes()
    headers = webhook_headers(args.topic, body, secret=args.secret, shop=args.shop, event_id=args.event_id)
    try:
        answer = httpx.post(
            f"{args.url.rstrip('/')}/webhooks/shopify", content=body, headers=headers, timeout=30
        )
    except httpx.HTTPError as exc:
        print(f"cannot reach the gateway at {args.url} ({type(exc).__name__}): is `make run` running?")
        return 2
    print(f"{answer.status_code} {answer.reason_phrase}  (event id {headers['X-Shopify-Event-Id']})")
    try:
        print(json.dumps(answer.json(), indent=2))
    except ValueError:
        print(answer.text)
    return 0 if answer.is_success else 1


if __name__ == "__main__":
    sys.exit(main())
