"""Signing requests the way a Standard Webhooks sender does (computed here, not by the library)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any


def hmac_signature(key: bytes, signed: bytes) -> str:
    """A v1 signature: base64 of HMAC-SHA256."""
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    return hmac_signature(key, f"{msg_id}.{timestamp}.".encode() + body)


def sign(event: dict[str, Any], secret: str, msg_id: str, timestamp: int | None = None) -> dict[str, Any]:
    """Replace the event's bearer token with Standard Webhooks headers over its body."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    body = (event.get("body") or "").encode()
    headers = {k: v for k, v in event["headers"].items() if k.lower() != "authorization"}
    headers |= {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id, timestamp, body),
    }
    return event | {"headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()}}
