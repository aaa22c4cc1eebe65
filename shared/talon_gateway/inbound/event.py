"""Reading an API Gateway (REST, proxy) event: headers, raw body, path and query parameters, JSON.

Everything here runs before the resolver and raises a ``GatewayError`` on refusal. An event is
read the way API Gateway writes it, and a crafted one whose parts disagree (``headers`` and
``multiValueHeaders``, ``pathParameters`` and ``path``) is refused rather than read the laxer
way: the parts the gateway checks must be the parts it forwards.
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from pydantic_core import from_json

from talon_gateway.config import get_settings
from talon_gateway.errors import FieldProblem, InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from talon_gateway.operation import Operation

IDEMPOTENCY_KEY_HEADER = "idempotency-key"
MAX_IDEMPOTENCY_KEY_LENGTH = 255
# Refused in path parameters (docs/openapi.json says the same): the Unicode categories of
# controls (NUL included), format characters (zero-width and bidirectional marks), surrogates
# (bytes that are not UTF-8), private use and unassigned code points, line and paragraph
# separators, and every space separator but U+0020; and the values "." and "..".
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _invalid(
    title: str, details: str, *, pointer: str | None = None, parameter: str | None = None
) -> InvalidRequest:
    return InvalidRequest([FieldProblem(title, details, pointer=pointer, parameter=parameter)])


def _inconsistent(part: str) -> InvalidRequest:
    return _invalid("Inconsistent event", f"The event's {part} disagree", parameter=part)


def _multi(event: Mapping[str, Any], single: str, multi: str) -> dict[str, list[str]]:
    """Values by name from an event's pair of maps, which must agree when both are present
    (API Gateway puts the last of repeated values in the single-valued map)."""
    singles = event.get(single) or {}
    multis = event.get(multi)
    if not isinstance(singles, dict) or (multis is not None and not isinstance(multis, dict)):
        raise _inconsistent(single)
    if not multis:
        if multis is not None and singles:
            raise _inconsistent(single)
        return {name: [value] for name, value in singles.items() if isinstance(value, str)}
    values: dict[str, list[str]] = {}
    for name, listed in multis.items():
        if not isinstance(listed, list) or not listed or not all(isinstance(v, str) for v in listed):
            raise _inconsistent(single)
        if singles.get(name) != listed[-1]:
            raise _inconsistent(single)
        values[name] = listed
    if set(singles) != set(multis):
        raise _inconsistent(single)
    return values


def header_values(event: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every value of every header, by name as sent (the maps checked for agreement)."""
    return _multi(event, "headers", "multiValueHeaders")


def headers_of(event: Mapping[str, Any]) -> tuple[dict[str, str], set[str]]:
    """Headers by lower-case name (last value wins), and the names that came more than once.

    API Gateway REST keeps the caller's case and lists repeated headers in multiValueHeaders.
    """
    values: dict[str, list[str]] = {}
    for name, listed in _multi(event, "headers", "multiValueHeaders").items():
        values.setdefault(name.lower(), []).extend(listed)
    return {name: listed[-1] for name, listed in values.items()}, {
        name for name, listed in values.items() if len(listed) > 1
    }


def query_of(operation: Operation, event: Mapping[str, Any]) -> dict[str, list[str]]:
    """The query parameters, every value in order; unknown ones refused by name like unknown fields."""
    query = _multi(event, "queryStringParameters", "multiValueQueryStringParameters")
    unknown = sorted(set(query).difference(operation.query_params))
    if unknown:
        raise InvalidRequest(
            [
                FieldProblem("Unknown parameter", "This query parameter is not accepted", parameter=n)
                for n in unknown
            ]
        )
    return query


def _is_identifier(value: str) -> bool:
    return value not in (".", "..") and not any(
        unicodedata.category(ch) in REFUSED_CATEGORIES or (ch != " " and unicodedata.category(ch) == "Zs")
        for ch in value
    )


def path_values(operation: Operation, event: dict[str, Any]) -> dict[str, str]:
    """The path parameters, decoded by API Gateway, checked against the path they came from.

    REST APIs keep ``path`` percent-encoded and decode ``pathParameters``; the last segments of
    ``path`` (a custom domain's base path may precede them) must spell the operation's path with
    exactly these values, so a crafted event cannot validate one value and forward another.
    """
    values = event.get("pathParameters") or {}
    if not isinstance(values, dict) or set(values) != set(operation.path_params):
        raise _inconsistent("pathParameters")
    template = operation.path.strip("/").split("/")
    path = event.get("path")
    if not isinstance(path, str):
        raise _inconsistent("pathParameters")
    segments = path.strip("/").split("/")
    if len(segments) < len(template):
        raise _inconsistent("pathParameters")
    resource = segments[len(segments) - len(template) :]
    for pattern, raw in zip(template, resource, strict=True):
        if pattern.startswith("{"):
            value = values[pattern[1:-1]]
            if not isinstance(value, str) or unquote(raw, errors="surrogateescape") != value:
                raise _inconsistent("pathParameters")
        elif pattern != raw:
            raise _inconsistent("pathParameters")
    problems = [
        FieldProblem("Invalid value", "Not a valid identifier", parameter=name)
        for name, value in values.items()
        if not value or not _is_identifier(value)
    ]
    if problems:
        raise InvalidRequest(problems)
    if len(resource) != len(segments):
        # Route on the operation's own path: a base path mapping's prefix is not part of it.
        event["path"] = "/" + "/".join(resource)
    return dict(values)


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The body exactly as the caller sent it (API Gateway base64-encodes binary bodies)."""
    text = event.get("body")
    if text is None or text == "":
        return b""
    if not isinstance(text, str):
        # API Gateway always sends text (or null); an event saying otherwise was made by hand.
        raise _invalid("Invalid event", "The event's body is not text", parameter="body")
    limit = get_settings().max_body_bytes
    # Base64 text is 4/3 of its bytes: refuse clearly oversized bodies before decoding them.
    if len(text) > limit * 4 // 3 + 4:
        raise PayloadTooLarge(limit)
    try:
        raw = base64.b64decode(text, validate=True) if event.get("isBase64Encoded") else text.encode()
    except (binascii.Error, UnicodeEncodeError):
        raise _invalid("Invalid body", "The body cannot be decoded", pointer="") from None
    if len(raw) > limit:
        raise PayloadTooLarge(limit)
    return raw


def check_body(
    operation: Operation, raw: bytes, headers: Mapping[str, str], event: Mapping[str, Any]
) -> None:
    """A body where the operation takes one, JSON and UTF-8; none where it takes none."""
    if not operation.has_body:
        if raw:
            raise _invalid("Unexpected body", "This operation takes no body", pointer="")
        return
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
        raise _invalid("Invalid body", "The body is not valid UTF-8", pointer="") from None


class _DuplicateKey(Exception):
    pass


class _Pairs(list[tuple[str, Any]]):
    """An object as parsed, every member kept in order (to locate a duplicate key)."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise _DuplicateKey
    return document


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# A number literal longer than this is not a price or a quantity but a way to make parsers work.
MAX_NUMBER_LENGTH = 100
# Deeper documents are refused: Talon.One's own parser (and the sandbox) fail far above this.
MAX_DEPTH = 200


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_LENGTH:
        raise ValueError("number literal too long")
    return float(text)


def _too_deep(text: str) -> bool:
    """Whether the document nests deeper than MAX_DEPTH; counting brackets (C speed) first
    spares the scan for every ordinary body, which cannot nest deeper than it has brackets."""
    if text.count("{") + text.count("[") <= MAX_DEPTH:
        return False
    try:
        from_json(text)  # pydantic-core stops at its recursion limit, MAX_DEPTH levels
    except ValueError as exc:
        return "recursion limit" in str(exc)
    return False


def _pointer(parts: list[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _find_duplicate(node: Any, at: list[str | int]) -> str | None:
    if isinstance(node, _Pairs):
        seen: set[str] = set()
        for key, _ in node:
            if key in seen:
                return _pointer([*at, key])
            seen.add(key)
        for key, value in node:
            found = _find_duplicate(value, [*at, key])
            if found is not None:
                return found
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found = _find_duplicate(value, [*at, index])
            if found is not None:
                return found
    return None


def parse_json(text: str) -> Any:
    """The body as one JSON document with one meaning, or ``InvalidRequest``.

    The gateway forwards the caller's bytes: a duplicate key (at any depth) would let another
    parser read the first value where the gateway validated the last, so it is refused with its
    pointer. NaN and Infinity are not JSON; a number beyond a double (1e999) parses as infinite,
    which every typed field refuses by name, while free-form values go to Talon.One as sent.
    """
    if _too_deep(text):
        raise _invalid("Invalid JSON", f"The body nests deeper than {MAX_DEPTH} levels", pointer="")
    try:
        return json.loads(
            text, object_pairs_hook=_unique, parse_float=_float, parse_constant=_refuse_constant
        )
    except _DuplicateKey:
        pointer = _find_duplicate(json.loads(text, object_pairs_hook=_Pairs), [])
        raise _invalid(
            "Duplicate key", "This key appears more than once in its object", pointer=pointer
        ) from None
    except (ValueError, RecursionError):
        raise _invalid("Invalid JSON", "The body is not valid JSON", pointer="") from None


def idempotency_key(headers: Mapping[str, str], repeated: set[str], webhook_id: str | None) -> str | None:
    """The deduplication key: a signed request's ``webhook-id``, else ``Idempotency-Key``.

    On a signed request the webhook id is the key, so that adding a header cannot make a
    captured request new: a different ``Idempotency-Key`` next to a signature is refused.
    """
    if IDEMPOTENCY_KEY_HEADER in repeated:
        raise _invalid("Repeated header", "Send Idempotency-Key once", parameter=IDEMPOTENCY_KEY_HEADER)
    value = headers.get(IDEMPOTENCY_KEY_HEADER)
    if value is not None and not (
        0 < len(value) <= MAX_IDEMPOTENCY_KEY_LENGTH and value.isascii() and value.isprintable()
    ):
        detail = f"1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters"
        raise _invalid("Invalid idempotency key", detail, parameter=IDEMPOTENCY_KEY_HEADER)
    if webhook_id is None:
        return value
    if value is not None and value != webhook_id:
        raise _invalid(
            "Conflicting idempotency key",
            "A signed request is deduplicated by its webhook-id: omit Idempotency-Key or send the same value",
            parameter=IDEMPOTENCY_KEY_HEADER,
        )
    return webhook_id


def prefers_async(headers: Mapping[str, str]) -> bool:
    """Whether the caller asks for asynchronous processing (RFC 7240 ``Prefer: respond-async``;
    preferences are comma-separated, their names case-insensitive, parameters after ``;``)."""
    prefer = headers.get("prefer", "")
    return any(
        token.split(";", 1)[0].split("=", 1)[0].strip().lower() == "respond-async"
        for token in prefer.split(",")
    )
