"""Reading an API Gateway (REST, proxy) event: headers, raw body, path and query parameters.

Everything here runs before the body is parsed and raises a ``GatewayError`` on refusal.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from talon_gateway.config import get_settings
from talon_gateway.errors import FieldProblem, InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from talon_gateway.operations import Operation

IDEMPOTENCY_KEY_HEADERS = ("idempotency-key", "webhook-id")
MAX_IDEMPOTENCY_KEY_LENGTH = 255


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The body exactly as the caller sent it (API Gateway base64-encodes binary bodies)."""
    text: str | None = event.get("body")
    if not text:
        return b""
    limit = get_settings().max_body_bytes
    # Base64 text is 4/3 of its bytes: refuse clearly oversized bodies before decoding them.
    if len(text) > limit * 4 // 3 + 4:
        raise PayloadTooLarge(limit)
    try:
        raw = base64.b64decode(text, validate=True) if event.get("isBase64Encoded") else text.encode()
    except (binascii.Error, UnicodeEncodeError):
        raise InvalidRequest(
            [FieldProblem("Invalid body", "The body cannot be decoded", pointer="")]
        ) from None
    if len(raw) > limit:
        raise PayloadTooLarge(limit)
    return raw


def check_query(operation: Operation, event: Mapping[str, Any]) -> None:
    """Unknown query parameters are refused by name, like unknown body fields."""
    names = set(event.get("multiValueQueryStringParameters") or {}) | set(
        event.get("queryStringParameters") or {}
    )
    unknown = sorted(names.difference(operation.query_params))
    if unknown:
        raise InvalidRequest(
            [
                FieldProblem("Unknown parameter", "This query parameter is not accepted", parameter=n)
                for n in unknown
            ]
        )


def check_path_values(values: Mapping[str, str]) -> None:
    """Path parameters are identifiers: not dot segments, no control characters (NUL included)."""
    problems = [
        FieldProblem("Invalid value", "Not a valid identifier", parameter=name)
        for name, value in values.items()
        if value in (".", "..") or not value.isprintable()
    ]
    if problems:
        raise InvalidRequest(problems)


def check_body(raw: bytes, headers: Mapping[str, str], event: Mapping[str, Any]) -> None:
    declared = headers.get("content-type", "")
    media_type, _, parameters = declared.partition(";")
    if media_type.strip().lower() not in ("", "application/json"):
        raise UnsupportedMediaType()
    if media_type and media_type.strip() != "application/json":
        # Media types are case-insensitive; Powertools' validation compares them as written.
        canonical = "application/json" + (f";{parameters}" if parameters else "")
        for field in ("headers", "multiValueHeaders"):
            for name in list(event.get(field) or {}):
                if name.lower() == "content-type":
                    event[field][name] = canonical if field == "headers" else [canonical]
    try:
        raw.decode()
    except UnicodeDecodeError:
        raise InvalidRequest(
            [FieldProblem("Invalid body", "The body is not valid UTF-8", pointer="")]
        ) from None


def headers_of(event: Mapping[str, Any]) -> tuple[dict[str, str], set[str]]:
    """Headers by lower-case name (last value wins), and the names that came more than once.

    API Gateway REST keeps the caller's case and lists repeated headers in multiValueHeaders.
    """
    values: dict[str, list[str]] = {}
    multi = event.get("multiValueHeaders") or {
        name: [value] for name, value in (event.get("headers") or {}).items()
    }
    for name, listed in multi.items():
        values.setdefault(name.lower(), []).extend(listed or [])
    headers = {name: listed[-1] for name, listed in values.items() if listed}
    return headers, {name for name, listed in values.items() if len(listed) > 1}


def idempotency_key(headers: Mapping[str, str]) -> str | None:
    """The caller's key (``Idempotency-Key``, else ``webhook-id``), checked to be a sane token."""
    for name in IDEMPOTENCY_KEY_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        if (
            not value
            or len(value) > MAX_IDEMPOTENCY_KEY_LENGTH
            or not (value.isascii() and value.isprintable())
        ):
            detail = f"1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters"
            raise InvalidRequest([FieldProblem("Invalid idempotency key", detail, parameter=name)])
        return value
    return None
