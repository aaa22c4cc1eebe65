"""Baseline (a), the floor: updateCustomerSessionV2 forwarded with the standard library only.

The same work as the gateway, written as tersely as possible: bearer check in constant time,
JSON parse and the v2 request's rules checked by hand, the path encoded, the API key header,
the request sent with http.client over TLS, the answer passed back. Nothing else (no models, no
metrics, no logs, no retries, no idempotency).
"""

from __future__ import annotations

import base64
import hmac
import http.client
import json
import os
from typing import Any
from urllib.parse import quote, urlsplit

SESSION_FIELDS = {
    "profileId",
    "couponCodes",
    "referralCode",
    "state",
    "cartItems",
    "additionalCosts",
    "identifiers",
    "attributes",
}
ITEM_FIELDS = {
    "name",
    "sku",
    "quantity",
    "price",
    "category",
    "weight",
    "height",
    "width",
    "length",
    "position",
    "attributes",
    "adjustment",
}
_connection: http.client.HTTPSConnection | None = None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _valid(body: Any) -> bool:
    if not isinstance(body, dict) or not set(body) <= {"customerSession", "responseContent"}:
        return False
    session = body.get("customerSession")
    if not isinstance(session, dict) or not set(session) <= SESSION_FIELDS:
        return False
    if session.get("state", "open") not in ("open", "closed", "cancelled"):
        return False
    for key in ("profileId", "referralCode"):
        if key in session and not isinstance(session[key], str):
            return False
    if not all(isinstance(code, str) for code in session.get("couponCodes", [])):
        return False
    for item in session.get("cartItems", []):
        if not isinstance(item, dict) or not set(item) <= ITEM_FIELDS:
            return False
        if not (
            isinstance(item.get("name"), str)
            and item["name"]
            and isinstance(item.get("sku"), str)
            and item["sku"]
        ):
            return False
        quantity = item.get("quantity")
        if not (
            isinstance(quantity, int)
            and not isinstance(quantity, bool)
            and quantity >= 1
            and _number(item.get("price"))
        ):
            return False
    return all(
        isinstance(cost, dict) and _number(cost.get("price"))
        for cost in session.get("additionalCosts", {}).values()
    )


def _send(path: str, body: bytes, api_key: str) -> http.client.HTTPResponse:
    global _connection  # noqa: PLW0603 - one connection per environment, like the gateway's pool
    if _connection is None:
        # TLS with the system's CAs (the benchmark's fake peer then skips the handshake).
        _connection = http.client.HTTPSConnection(urlsplit(os.environ["TALON_BASE_URL"]).hostname or "")
    headers = {"Authorization": f"ApiKey-v1 {api_key}", "Content-Type": "application/json"}
    _connection.request("PUT", path, body, headers)
    return _connection.getresponse()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    token = os.environ["FLOOR_BEARER_TOKEN"].encode()
    presented = headers.get("authorization", "").removeprefix("Bearer ").encode()
    if not hmac.compare_digest(presented, token):
        return {"statusCode": 401, "body": '{"message":"Authentication required"}'}
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    try:
        parsed = json.loads(body)
    except ValueError:
        return {"statusCode": 400, "body": '{"message":"Invalid JSON"}'}
    if not _valid(parsed):
        return {"statusCode": 400, "body": '{"message":"The request is invalid"}'}
    path = "/v2/customer_sessions/" + quote(event["pathParameters"]["customerSessionId"], safe="")
    response = _send(path, body, os.environ["FLOOR_API_KEY"])
    return {
        "statusCode": response.status,
        "headers": {"Content-Type": response.getheader("Content-Type") or "application/json"},
        "body": response.read().decode(),
    }
