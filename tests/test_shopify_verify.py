"""Verifying Shopify webhooks: the HMAC matrix and the headers around it.

Signatures are computed here with hmac, hashlib and base64, as Shopify computes them: the
base64 HMAC-SHA256 of the raw body keyed on the app's client secret. Offline, no AWS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone

import pytest

from talon_gateway.errors import ConfigurationError, InvalidRequest, Unauthenticated
from talon_gateway.sources.shopify import ShopifyWebhook, verify_webhook
from talon_gateway.sources.shopify.verify import parse_instant

SECRET = "shpss_current-client-secret-0123456789"
OLD_SECRET = "shpss_previous-client-secret-9876543210"
WRONG_SECRET = "shpss_someone-elses-secret"
BODY = b'{"id":207119551,"email":"buyer@example.com","updated_at":"2026-05-04T05:25:02-04:00"}'
EVENT_ID = "5ab2bd4c-2f4e-4b6a-9d3c-0e1f2a3b4c5d"
WEBHOOK_ID = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"


def sign(body: bytes, secret: str | bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def shopify_headers(body: bytes = BODY, secret: str = SECRET, **changes: str | None) -> dict[str, str]:
    """Headers as Shopify sends them; a change to None removes the header."""
    headers = {
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-Topic": "customers/update",
        "X-Shopify-Shop-Domain": "example-store.myshopify.com",
        "X-Shopify-Webhook-Id": WEBHOOK_ID,
        "X-Shopify-Event-Id": EVENT_ID,
        "X-Shopify-Triggered-At": "2026-05-04T09:25:03.877041743Z",
        "X-Shopify-API-Version": "2026-04",
        "Content-Type": "application/json",
    }
    for name, value in changes.items():
        header = "X-Shopify-" + name.replace("_", "-")
        headers = {k: v for k, v in headers.items() if k.lower() != header.lower()}
        if value is not None:
            headers[header] = value
    return headers


def refused(reason: str, body: bytes, headers: Mapping[str, str | Sequence[str]]) -> None:
    with pytest.raises(Unauthenticated) as caught:
        verify_webhook(body, headers, [SECRET])
    assert caught.value.reason == reason


def invalid(headers: Mapping[str, str | Sequence[str]]) -> list[str | None]:
    with pytest.raises(InvalidRequest) as caught:
        verify_webhook(BODY, headers, [SECRET])
    return [problem.parameter for problem in caught.value.problems]


# The HMAC


def test_a_valid_webhook_is_read_from_its_headers() -> None:
    # Given a body signed with the app's secret and Shopify's headers
    headers = shopify_headers()
    # When it is verified
    webhook = verify_webhook(BODY, headers, [SECRET])
    # Then its headers are read, the dedup key is the event id's, and the time is an instant
    assert webhook.topic == "customers/update"
    assert webhook.shop_domain == "example-store.myshopify.com"
    assert webhook.event_id == EVENT_ID
    assert webhook.webhook_id == WEBHOOK_ID
    assert webhook.api_version == "2026-04"
    assert webhook.triggered_at == datetime(2026, 5, 4, 9, 25, 3, 877041, tzinfo=UTC)
    assert webhook.dedup_key == f"customers/update#event#{EVENT_ID}"
    assert webhook.body_sha256 == hashlib.sha256(BODY).hexdigest()


def test_a_webhook_signed_with_the_previous_secret_passes_during_rotation() -> None:
    # Given a body signed with the secret being rotated out
    headers = shopify_headers(secret=OLD_SECRET)
    # When the new and the old secrets are both accepted
    webhook = verify_webhook(BODY, headers, [SECRET, OLD_SECRET])
    # Then it is verified
    assert webhook.topic == "customers/update"


def test_a_secret_given_as_bytes_is_used_as_is() -> None:
    # Given a secret configured as bytes
    key = SECRET.encode()
    # When a body signed with it is verified
    webhook = verify_webhook(BODY, shopify_headers(), [key])
    # Then it passes
    assert webhook.event_id == EVENT_ID


def test_a_webhook_signed_with_another_secret_is_refused() -> None:
    # Given a body signed with a secret the gateway does not hold
    headers = shopify_headers(secret=WRONG_SECRET)
    # When it is verified, then it is refused (401)
    refused("wrong_signature", BODY, headers)


def test_a_rotated_out_secret_is_refused_once_removed() -> None:
    # Given a body signed with the old secret, after the rotation ended
    headers = shopify_headers(secret=OLD_SECRET)
    # When only the new secret is accepted, then it is refused
    refused("wrong_signature", BODY, headers)


def test_a_tampered_body_is_refused() -> None:
    # Given Shopify's signature over the original body
    headers = shopify_headers()
    # When one byte of the body changed, then it is refused
    refused("wrong_signature", BODY.replace(b"207119551", b"207119552"), headers)


def test_a_webhook_without_hmac_is_refused_with_401_before_anything_else() -> None:
    # Given no HMAC header, and no topic either
    headers = shopify_headers(Hmac_Sha256=None, Topic=None)
    # When it is verified, then the missing signature is what is said (401, not 400)
    refused("missing_signature", BODY, headers)


def test_a_wrong_hmac_is_refused_before_a_missing_topic_is_reported() -> None:
    # Given a wrong signature and no topic
    headers = shopify_headers(secret=WRONG_SECRET, Topic=None)
    # When it is verified, then it is refused as unauthenticated
    refused("wrong_signature", BODY, headers)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Shopify-Hmac-Sha256": [sign(BODY, SECRET), sign(BODY, SECRET)]}, id="listed-twice"),
        pytest.param(
            {"X-Shopify-Hmac-Sha256": [sign(BODY, WRONG_SECRET), sign(BODY, SECRET)]}, id="one-right"
        ),
        pytest.param(
            {"X-Shopify-Hmac-Sha256": sign(BODY, SECRET), "x-shopify-hmac-sha256": sign(BODY, SECRET)},
            id="two-cases",
        ),
        pytest.param(
            {"X-Shopify-Hmac-Sha256": sign(BODY, SECRET), "shopify-hmac-sha256": sign(BODY, SECRET)},
            id="prefixed-and-not",
        ),
    ],
)
def test_a_repeated_hmac_header_is_refused(headers: dict[str, str | list[str]]) -> None:
    # Given the HMAC header more than once (even with the right value among them)
    merged: dict[str, str | list[str]] = {
        k: v for k, v in shopify_headers().items() if k != "X-Shopify-Hmac-Sha256"
    }
    merged.update(headers)
    # When it is verified, then it is refused: which value was checked would be open
    refused("repeated_signature", BODY, merged)


_GOOD = sign(BODY, SECRET)
_DIGEST = base64.b64decode(_GOOD)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param(hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest(), id="hex"),
        pytest.param(_GOOD + "AAAA", id="trailing-junk"),
        pytest.param(_GOOD + "=", id="extra-padding"),
        pytest.param(_GOOD.rstrip("="), id="no-padding"),
        pytest.param(" " + _GOOD, id="leading-space"),
        pytest.param(_GOOD + "\n", id="trailing-newline"),
        pytest.param(base64.urlsafe_b64encode(bytes([0xFB]) * 32).decode(), id="url-safe-alphabet"),
        pytest.param(base64.b64encode(_DIGEST + b"\x00").decode(), id="33-bytes"),
        pytest.param(base64.b64encode(_DIGEST[:31]).decode(), id="31-bytes"),
        pytest.param("sha256=" + _GOOD, id="prefixed"),
    ],
)
def test_a_malformed_hmac_is_refused(value: str) -> None:
    # Given an HMAC that is not exactly one base64 SHA-256 digest
    headers = shopify_headers(Hmac_Sha256=value)
    # When it is verified, then it is refused as malformed (401)
    refused("malformed_signature", BODY, headers)


def test_a_non_canonical_base64_spelling_of_the_right_digest_is_refused() -> None:
    # Given the right digest, with the unused low bits of its last character set
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(_GOOD[42])
    other = _GOOD[:42] + alphabet[last ^ 1] + "="
    assert base64.b64decode(other) == _DIGEST  # a lax decoder accepts it
    # When it is verified, then it is refused: strict parsing accepts one spelling only
    refused("malformed_signature", BODY, shopify_headers(Hmac_Sha256=other))


def test_a_hmac_that_is_not_text_is_malformed() -> None:
    # Given a header map whose HMAC value is not a string (a crafted event)
    headers: dict[str, object] = dict(shopify_headers())
    headers["X-Shopify-Hmac-Sha256"] = [None]
    # When it is verified, then it is refused as malformed
    with pytest.raises(Unauthenticated) as caught:
        verify_webhook(BODY, headers, [SECRET])  # type: ignore[arg-type]
    assert caught.value.reason == "malformed_signature"


# Header names


def test_unprefixed_header_names_are_read_like_prefixed_ones() -> None:
    # Given Shopify's headers without the X- prefix, in lower case
    headers = {
        "shopify-hmac-sha256": sign(BODY, SECRET),
        "shopify-topic": "orders/paid",
        "shopify-shop-domain": "example-store.myshopify.com",
        "shopify-webhook-id": WEBHOOK_ID,
        "shopify-event-id": EVENT_ID,
        "shopify-triggered-at": "2026-05-04T05:25:03-04:00",
    }
    # When they are verified
    webhook = verify_webhook(BODY, headers, [SECRET])
    # Then they are read the same way
    assert webhook.topic == "orders/paid"
    assert webhook.event_id == EVENT_ID
    assert webhook.triggered_at == datetime(2026, 5, 4, 9, 25, 3, tzinfo=UTC)


def test_header_names_are_read_in_any_case() -> None:
    # Given headers in upper case, as a proxy may rewrite them
    headers = {name.upper(): value for name, value in shopify_headers().items()}
    # When they are verified, then they are read
    assert verify_webhook(BODY, headers, [SECRET]).topic == "customers/update"


def test_api_gateways_multi_value_headers_can_be_passed_as_they_are() -> None:
    # Given API Gateway's multiValueHeaders (every header as a list)
    headers = {name: [value] for name, value in shopify_headers().items()}
    # When they are verified, then they are read
    assert verify_webhook(BODY, headers, [SECRET]).event_id == EVENT_ID


def test_the_shop_domain_is_read_in_lower_case() -> None:
    # Given a shop domain in mixed case
    headers = shopify_headers(Shop_Domain="Example-Store.MyShopify.com")
    # When it is verified, then the domain is lower case
    assert verify_webhook(BODY, headers, [SECRET]).shop_domain == "example-store.myshopify.com"


# The other headers (400)


def test_a_webhook_without_topic_is_a_bad_request() -> None:
    # Given a signed body without X-Shopify-Topic, when it is verified, then it is refused (400)
    assert invalid(shopify_headers(Topic=None)) == ["X-Shopify-Topic"]


@pytest.mark.parametrize("topic", ["orders", "orders/", "Orders/Create", "orders/create ", "../etc"])
def test_a_malformed_topic_is_a_bad_request(topic: str) -> None:
    # Given a topic that is not Shopify's resource/event form, then it is refused
    assert invalid(shopify_headers(Topic=topic)) == ["X-Shopify-Topic"]


def test_a_repeated_topic_is_a_bad_request() -> None:
    # Given the topic under both spellings
    headers = shopify_headers() | {"shopify-topic": "customers/redact"}
    # When it is verified, then it is refused: which topic applies would be open
    assert invalid(headers) == ["X-Shopify-Topic"]


def test_a_missing_shop_domain_is_a_bad_request() -> None:
    assert invalid(shopify_headers(Shop_Domain=None)) == ["X-Shopify-Shop-Domain"]


def test_without_event_id_the_webhook_id_deduplicates() -> None:
    # Given no X-Shopify-Event-Id
    headers = shopify_headers(Event_Id=None)
    # When it is verified
    webhook = verify_webhook(BODY, headers, [SECRET])
    # Then the webhook id, with the topic, is the dedup key
    assert webhook.event_id is None
    assert webhook.dedup_key == f"customers/update#webhook#{WEBHOOK_ID}"


def test_without_event_id_nor_webhook_id_nothing_deduplicates_it() -> None:
    # Given neither id, when it is verified, then it is refused (400)
    assert invalid(shopify_headers(Event_Id=None, Webhook_Id=None)) == ["X-Shopify-Event-Id"]


def test_an_identifier_with_spaces_is_a_bad_request() -> None:
    assert invalid(shopify_headers(Webhook_Id="not an id")) == ["X-Shopify-Webhook-Id"]


def test_every_problem_is_reported_at_once() -> None:
    # Given several bad headers, when verified, then each is named
    headers = shopify_headers(Topic=None, Shop_Domain="not a domain", Triggered_At="yesterday")
    assert invalid(headers) == ["X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Triggered-At"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-05-04T09:25:03Z", datetime(2026, 5, 4, 9, 25, 3, tzinfo=UTC)),
        ("2026-05-04T05:25:03-04:00", datetime(2026, 5, 4, 9, 25, 3, tzinfo=UTC)),
        ("2026-05-04T09:25:03.123456789Z", datetime(2026, 5, 4, 9, 25, 3, 123456, tzinfo=UTC)),
    ],
)
def test_triggered_at_is_an_instant_whatever_its_offset(value: str, expected: datetime) -> None:
    # Given X-Shopify-Triggered-At in one of Shopify's spellings
    webhook = verify_webhook(BODY, shopify_headers(Triggered_At=value), [SECRET])
    # Then it compares as the same instant
    assert webhook.triggered_at == expected


@pytest.mark.parametrize("value", ["2026-05-04T09:25:03", "2026-05-04", "tomorrow", "1746350703"])
def test_a_triggered_at_without_offset_is_a_bad_request(value: str) -> None:
    assert invalid(shopify_headers(Triggered_At=value)) == ["X-Shopify-Triggered-At"]


def test_a_missing_triggered_at_is_none() -> None:
    webhook = verify_webhook(BODY, shopify_headers(Triggered_At=None), [SECRET])
    assert webhook.triggered_at is None


def test_parse_instant_reads_z_and_offsets_alike() -> None:
    # Given the same instant in Z and in an offset
    z = parse_instant("2026-05-04T09:25:03Z")
    offset = parse_instant("2026-05-04T11:25:03+02:00")
    # Then they are equal, and later than a second earlier elsewhere
    assert z == offset
    earlier = datetime(2026, 5, 4, 4, 25, 2, tzinfo=timezone(timedelta(hours=-5)))
    assert z is not None
    assert earlier < z


# Configuration and records


@pytest.mark.parametrize("secrets", [[], [""], [SECRET, b""]])
def test_no_secret_or_an_empty_one_is_a_configuration_error(secrets: list[str | bytes]) -> None:
    # Given no usable secret, when a webhook is verified, then the deployment is at fault
    with pytest.raises(ConfigurationError):
        verify_webhook(BODY, shopify_headers(), secrets)


def test_a_verified_webhook_survives_a_queue_message() -> None:
    # Given a verified webhook
    webhook = verify_webhook(BODY, shopify_headers(), [SECRET])
    # When it is written as a record and read back
    again = ShopifyWebhook.from_record(webhook.as_record())
    # Then it is the same
    assert again == webhook
    assert again.dedup_key == webhook.dedup_key
