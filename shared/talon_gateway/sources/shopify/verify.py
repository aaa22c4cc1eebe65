"""Verifying a Shopify webhook before its body is parsed.

Shopify signs the raw body bytes, only them, with HMAC-SHA256 keyed on the app's client secret
and sends the digest base64-encoded in ``X-Shopify-Hmac-Sha256``. Headers come in any case and,
on some deliveries, without the ``X-`` prefix (``shopify-hmac-sha256``); both spellings name the
same header, so a value given under both counts as repeated.

Order of checks: the signature first (401, before anything about the request is said to an
unauthenticated caller), then the other headers (400, every problem at once).

The headers are not signed: a captured body and HMAC can be replayed under another topic or
event id. The mapping refuses a payload that does not have its topic's shape, and
``body_sha256`` lets a caller deduplicate on the bytes as well as on the ids.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from talon_gateway.errors import ConfigurationError, FieldProblem, InvalidRequest, Unauthenticated
from talon_gateway.sources.shopify import errors

# Header names without their prefix, as they are looked up.
HMAC = "hmac-sha256"
TOPIC = "topic"
SHOP_DOMAIN = "shop-domain"
WEBHOOK_ID = "webhook-id"
EVENT_ID = "event-id"
TRIGGERED_AT = "triggered-at"
API_VERSION = "api-version"
_KNOWN = frozenset({HMAC, TOPIC, SHOP_DOMAIN, WEBHOOK_ID, EVENT_ID, TRIGGERED_AT, API_VERSION})
_PREFIXES = ("x-shopify-", "shopify-")

# A SHA-256 digest is 32 bytes: exactly 43 base64 characters and one "=" of padding.
_DIGEST_B64 = re.compile(r"[A-Za-z0-9+/]{43}=")
_TOPIC = re.compile(r"[a-z0-9_]+(?:/[a-z0-9_]+)+")
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+")
_TOKEN = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no spaces: ids and versions
_MAX_TOPIC = 100
_MAX_DOMAIN = 255

HeaderValues = str | Sequence[str]


@dataclass(frozen=True, slots=True)
class ShopifyWebhook:
    """What the verified headers say about one delivery."""

    topic: str  # e.g. "orders/paid"
    shop_domain: str  # lower case, e.g. "example-store.myshopify.com"
    webhook_id: str | None  # one delivery attempt's subscription message
    event_id: str | None  # the event: the same across retries and subscriptions' copies
    triggered_at: datetime | None  # aware; when Shopify triggered the event
    api_version: str | None = None
    body_sha256: str = ""  # hex digest of the verified body

    @property
    def dedup_key(self) -> str:
        """The event id, else the webhook id, scoped by topic (one event has one copy per topic)."""
        if self.event_id is not None:
            return f"{self.topic}#event#{self.event_id}"
        return f"{self.topic}#webhook#{self.webhook_id}"

    def as_record(self) -> dict[str, str | None]:
        """A JSON-ready form, for a queue message between the function and its worker."""
        return {
            "topic": self.topic,
            "shopDomain": self.shop_domain,
            "webhookId": self.webhook_id,
            "eventId": self.event_id,
            "triggeredAt": None if self.triggered_at is None else self.triggered_at.isoformat(),
            "apiVersion": self.api_version,
            "bodySha256": self.body_sha256,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ShopifyWebhook:
        triggered = record.get("triggeredAt")
        return cls(
            topic=record["topic"],
            shop_domain=record["shopDomain"],
            webhook_id=record.get("webhookId"),
            event_id=record.get("eventId"),
            triggered_at=None if triggered is None else datetime.fromisoformat(triggered),
            api_version=record.get("apiVersion"),
            body_sha256=record.get("bodySha256", ""),
        )


def verify_webhook(
    body: bytes, headers: Mapping[str, HeaderValues], secrets: Sequence[str | bytes]
) -> ShopifyWebhook:
    """Check the HMAC of ``body`` against each secret (rotation), then read the headers.

    ``headers`` maps names, in any case, to a value or to every value a header came with (API
    Gateway's ``multiValueHeaders`` can be passed as is). Raises ``Unauthenticated`` (401) for a
    missing, repeated, malformed or wrong HMAC, ``InvalidRequest`` (400) for the other headers,
    ``ConfigurationError`` when no secret is configured.
    """
    if not secrets or not all(secrets):
        # An empty key would let anyone compute the HMAC.
        raise ConfigurationError("no Shopify client secret, or an empty one, is configured")
    found = _collect(headers)
    _check_signature(body, found.get(HMAC, []), secrets)

    problems: list[FieldProblem] = []
    for name, listed in found.items():
        if len(listed) > 1:
            problems.append(_problem(name, "Repeated header", "This header must be sent once"))
    values = {name: listed[0] for name, listed in found.items() if len(listed) == 1}
    topic = _required(values, found, TOPIC, problems, "The webhook topic is required")
    if topic is not None and (len(topic) > _MAX_TOPIC or not _TOPIC.fullmatch(topic)):
        problems.append(_problem(TOPIC, "Invalid header", "Not a Shopify webhook topic"))
    shop = _required(values, found, SHOP_DOMAIN, problems, "The shop's domain is required")
    if shop is not None:
        shop = shop.lower()
        if len(shop) > _MAX_DOMAIN or not _DOMAIN.fullmatch(shop):
            problems.append(_problem(SHOP_DOMAIN, "Invalid header", "Not a shop domain"))
    problems.extend(
        _problem(name, "Invalid header", "Not an identifier")
        for name in (WEBHOOK_ID, EVENT_ID, API_VERSION)
        if name in values and not _TOKEN.fullmatch(values[name])
    )
    if WEBHOOK_ID not in found and EVENT_ID not in found:
        problems.append(
            _problem(EVENT_ID, "Missing header", "An event id or a webhook id is required to deduplicate")
        )
    triggered_at = None
    if TRIGGERED_AT in values:
        triggered_at = parse_instant(values[TRIGGERED_AT])
        if triggered_at is None:
            problems.append(_problem(TRIGGERED_AT, "Invalid header", "Not a date-time with an offset"))
    if problems or topic is None or shop is None:
        raise InvalidRequest(problems)
    return ShopifyWebhook(
        topic=topic,
        shop_domain=shop,
        webhook_id=values.get(WEBHOOK_ID),
        event_id=values.get(EVENT_ID),
        triggered_at=triggered_at,
        api_version=values.get(API_VERSION),
        body_sha256=hashlib.sha256(body).hexdigest(),
    )


def _required(
    values: dict[str, str], found: dict[str, list[str]], name: str, problems: list[FieldProblem], details: str
) -> str | None:
    if name not in found:
        problems.append(_problem(name, "Missing header", details))
    return values.get(name)


def parse_instant(value: str) -> datetime | None:
    """An RFC 3339 date-time with ``Z`` or an offset, else None (a naive time is no instant).

    Shopify writes both ``2024-05-01T10:00:00Z`` and ``2024-05-01T12:00:00+02:00``, and up to
    nanoseconds in ``X-Shopify-Triggered-At``; the aware datetimes compare as instants.
    """
    if not 20 <= len(value) <= 40 or value[10:11] not in ("T", "t"):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.utcoffset() is not None else None


def _collect(headers: Mapping[str, HeaderValues]) -> dict[str, list[str]]:
    """Every value of each Shopify header, by unprefixed lower-case name."""
    found: dict[str, list[Any]] = {}
    for raw_name, value in headers.items():
        name = raw_name.lower() if isinstance(raw_name, str) else ""
        for prefix in _PREFIXES:
            if name.startswith(prefix) and name[len(prefix) :] in _KNOWN:
                listed = [value] if isinstance(value, str) else list(value)
                found.setdefault(name[len(prefix) :], []).extend(listed)
                break
    # A value that is not text becomes "", which no check accepts: it is reported as malformed.
    return {name: [v if isinstance(v, str) else "" for v in listed] for name, listed in found.items()}


def _check_signature(body: bytes, listed: list[str], secrets: Sequence[str | bytes]) -> None:
    if not listed:
        raise Unauthenticated(errors.MISSING_SIGNATURE)
    if len(listed) > 1:
        # Two values leave it open which one was checked: refuse rather than pick one.
        raise Unauthenticated(errors.REPEATED_SIGNATURE)
    sent = listed[0]
    if not _DIGEST_B64.fullmatch(sent):
        raise Unauthenticated(errors.MALFORMED_SIGNATURE)
    try:
        digest = base64.b64decode(sent, validate=True)
    except binascii.Error:
        raise Unauthenticated(errors.MALFORMED_SIGNATURE) from None
    if base64.b64encode(digest).decode() != sent:
        # Non-zero unused bits in the last character: another spelling of the same bytes.
        raise Unauthenticated(errors.MALFORMED_SIGNATURE)
    matched = False
    for secret in secrets:
        key = secret.encode() if isinstance(secret, str) else secret
        expected = hmac.new(key, body, hashlib.sha256).digest()
        # Every secret is tried, so the time taken does not say which one matched.
        matched |= hmac.compare_digest(expected, digest)
    if not matched:
        raise Unauthenticated(errors.WRONG_SIGNATURE)


def _problem(name: str, title: str, details: str) -> FieldProblem:
    return FieldProblem(title, details, parameter=f"X-Shopify-{_title(name)}")


def _title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))
