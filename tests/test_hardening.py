"""Hardening: hostile or malformed input gets a clear 4xx in the gateway's error shape, never a 5xx.

Where the gateway refuses a request, Talon.One is not called. Two set-ups:

- over HTTP, where the transport matters (raw request targets, bytes that are not UTF-8,
  header sizes, media types): the local gateway (`make run`'s LocalStack: moto, the Talon.One
  sandbox, two execution environments) on loopback; what reached Talon.One is read from the
  sandbox's request log (``/_sandbox/requests``), cleared before each test;
- in-process, where it is simpler (a small ``MAX_BODY_BYTES``, numbers, header values no HTTP
  server would take): the functions' handlers with the recording Talon.One of conftest.

Large numbers inside free-form attributes are valid JSON and go to Talon.One as sent (typed
fields are bounded by the models); NaN and Infinity are not JSON and are refused.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

from local_gateway.stack import LocalStack
from talon_gateway.config import Settings
from tests.conftest import Invoke, body_json, header, load_event, reset_sandbox
from tests.support.upstream import RecordingUpstream

# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------

VALID_EVENT = b'{"type":"viewed_promo","attributes":{},"sessionId":"hardening-1"}'


def error_problems(status: int, expected: int, content_type: str | None, body: bytes) -> set[tuple[str, str]]:
    """Check the gateway's error shape; return (title, pointer or parameter) of each listed error."""
    assert status == expected, body[:500]
    assert content_type is not None
    assert content_type.split(";")[0].strip() == "application/json"
    document = json.loads(body)
    assert document["StatusCode"] == expected
    assert isinstance(document["message"], str)
    assert document["message"]
    assert document["errors"]
    found = set()
    for error in document["errors"]:
        assert set(error) == {"title", "details", "source"}
        source = error["source"]
        found.add((error["title"], source.get("pointer", source.get("parameter", ""))))
    return found


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def problems(self, expected: int) -> set[tuple[str, str]]:
        """The gateway's own error (its correlation id included), with the problems it lists."""
        assert self.headers.get("x-correlation-id"), "not an answer of the gateway"
        return error_problems(self.status, expected, self.headers.get("content-type"), self.body)


@dataclass
class Gateway:
    """Raw HTTP to the local gateway (exact request target and bytes), and the sandbox's log."""

    stack: LocalStack

    def send(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        headers: Mapping[str, str | bytes | None] | None = None,
    ) -> Answer:
        """Send exactly this request target, headers and body (http.client normalises nothing).

        The bearer token is sent unless ``headers`` maps Authorization to None or another value.
        """
        all_headers: dict[str, str | bytes | None] = {"Authorization": f"Bearer {self.stack.token}"}
        all_headers.update(headers or {})
        parts = urlsplit(self.stack.url)
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
        try:
            connection.putrequest(method, target, skip_host=False, skip_accept_encoding=True)
            for name, value in all_headers.items():
                if value is not None:
                    connection.putheader(name, value)
            if body or method in ("POST", "PUT", "DELETE"):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
            response = connection.getresponse()
            payload = response.read()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, payload)
        finally:
            connection.close()

    def talon_requests(self) -> list[dict[str, Any]]:
        """What Talon.One (the sandbox) received since the test began."""
        answer = httpx.get(f"{self.stack.talon_url}/_sandbox/requests", timeout=10)
        assert answer.status_code == 200
        requests: list[dict[str, Any]] = answer.json()["requests"]
        return requests


@pytest.fixture
def gateway(local_stack: LocalStack) -> Gateway:
    """The local gateway, with the sandbox back to its seed and its request log empty."""
    reset_sandbox(local_stack)
    return Gateway(local_stack)


def event_with(
    function: str,
    *,
    body: str | None = None,
    headers: Mapping[str, str | None] | None = None,
    base64_body: bytes | None = None,
) -> dict[str, Any]:
    """An events/ file with another body and/or headers (None removes a header, any case)."""
    event = load_event(function)
    if body is not None:
        event["body"] = body
    if base64_body is not None:
        event["body"] = base64.b64encode(base64_body).decode()
        event["isBase64Encoded"] = True
    for name, value in (headers or {}).items():
        for table in (event["headers"], event["multiValueHeaders"]):
            for existing in [key for key in table if key.lower() == name.lower()]:
                del table[existing]
        if value is not None:
            event["headers"][name] = value
            event["multiValueHeaders"][name] = [value]
    return event


def refused(response: dict[str, Any], expected: int) -> set[tuple[str, str]]:
    """Check an in-process refusal: the gateway's error shape and correlation id."""
    assert header(response, "X-Correlation-Id")
    raw = response["body"].encode()
    return error_problems(response["statusCode"], expected, header(response, "Content-Type"), raw)


def event_body(attributes: str, session_id: str = "s") -> str:
    """A trackEvent body around the given attributes (JSON text, not necessarily valid)."""
    return '{"type":"viewed_promo","attributes":' + attributes + ',"sessionId":"' + session_id + '"}'


def nested_objects(depth: int, leaf: str = "1") -> str:
    return '{"a":' * depth + leaf + "}" * depth


def nested_arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


# ----------------------------------------------------------------------------------------------
# Body size
# ----------------------------------------------------------------------------------------------

DEFAULT_LIMIT: int = Settings.model_fields["max_body_bytes"].default


@pytest.mark.parametrize("authenticated", [True, False], ids=["authenticated", "unauthenticated"])
def test_a_body_over_the_default_limit_is_refused_before_authentication(
    gateway: Gateway, authenticated: bool
) -> None:
    # Given a body one byte over the default limit (1 MiB), with or without a credential
    limit = int(gateway.stack.environment.get("MAX_BODY_BYTES", DEFAULT_LIMIT))
    body = VALID_EVENT + b" " * (limit + 1 - len(VALID_EVENT))
    credential = {} if authenticated else {"Authorization": None}

    # When it is posted
    answer = gateway.send("POST", "/v1/events", body, {"Content-Type": "application/json", **credential})

    # Then it is refused as too large (not as unauthenticated: the size is checked first)
    answer.problems(413)
    assert gateway.talon_requests() == []


def test_a_body_of_exactly_the_default_limit_is_forwarded(gateway: Gateway) -> None:
    # Given a valid event padded with whitespace to exactly the limit
    limit = int(gateway.stack.environment.get("MAX_BODY_BYTES", DEFAULT_LIMIT))
    body = VALID_EVENT + b" " * (limit - len(VALID_EVENT))

    # When it is posted
    answer = gateway.send("POST", "/v1/events", body, {"Content-Type": "application/json"})

    # Then Talon.One gets it, byte for byte
    assert answer.status == 200, answer.body[:300]
    (received,) = gateway.talon_requests()
    assert received["body"] == body.decode()


@pytest.mark.parametrize(
    ("label", "body", "headers", "base64_body"),
    [
        ("one byte over", "x" * 65, {}, None),
        ("counted in bytes, not characters", '{"type":"' + "é" * 40 + '"}', {}, None),
        ("before authentication", "x" * 65, {"Authorization": None}, None),
        ("base64-encoded by API Gateway", None, {}, b"\xff" * 65),
    ],
    ids=["one byte over", "bytes not characters", "before authentication", "base64-encoded"],
)
def test_a_body_over_a_small_limit_is_refused(
    label: str,
    body: str | None,
    headers: dict[str, str | None],
    base64_body: bytes | None,
    recorded_gateway: RecordingUpstream,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a limit of 64 bytes and a body just over it
    monkeypatch.setenv("MAX_BODY_BYTES", "64")
    event = event_with("track_event", body=body, headers=headers, base64_body=base64_body)

    # When the function is invoked
    response = invoke("track_event", event)

    # Then it answers 413 naming the limit, and Talon.One is not called
    refused(response, 413)
    assert "64 bytes" in body_json(response)["message"]
    assert recorded_gateway.requests == []


def test_a_body_of_exactly_a_small_limit_is_forwarded(
    recorded_gateway: RecordingUpstream, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a limit equal to the size of a valid body
    monkeypatch.setenv("MAX_BODY_BYTES", str(len(VALID_EVENT)))

    # When it is sent
    response = invoke("track_event", event_with("track_event", body=VALID_EVENT.decode()))

    # Then it is forwarded unchanged
    assert response["statusCode"] == 200, response["body"]
    assert [r.body for r in recorded_gateway.requests] == [VALID_EVENT]


# ----------------------------------------------------------------------------------------------
# Encoding and structure of the body
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type":"\xff","attributes":{},"sessionId":"s"}',  # never valid in UTF-8
        b'{"type":"caf\xe9","attributes":{},"sessionId":"s"}',  # Latin-1
        b'{"type":"\xc0\xaf","attributes":{},"sessionId":"s"}',  # overlong encoding of "/"
        b'{"type":"\xed\xa0\x80","attributes":{},"sessionId":"s"}',  # encoded UTF-16 surrogate
        b'{"type":"\xe2\x82","attributes":{},"sessionId":"s"}',  # truncated sequence
    ],
    ids=["0xff", "latin-1", "overlong", "surrogate", "truncated"],
)
def test_a_body_that_is_not_utf8_is_refused(gateway: Gateway, raw: bytes) -> None:
    # Given bytes that are not UTF-8 (the runner delivers them base64-encoded, as API Gateway does)
    # When they are posted as JSON
    answer = gateway.send("POST", "/v1/events", raw, {"Content-Type": "application/json"})

    # Then the body is refused as not UTF-8, and Talon.One is not called
    assert answer.problems(400) == {("Invalid body", "")}
    assert gateway.talon_requests() == []


@pytest.mark.parametrize(
    "body",
    [
        nested_arrays(100_000),
        event_body(nested_objects(100_000)),
        event_body('{"x":' + nested_arrays(100_000) + "}"),
    ],
    ids=["100000 arrays", "100000 objects in attributes", "100000 arrays in attributes"],
)
def test_deeply_nested_json_is_refused(gateway: Gateway, body: str) -> None:
    # Given JSON nested 100 000 levels deep (200 kB: well within the size limit)
    # When it is posted
    answer = gateway.send("POST", "/v1/events", body.encode(), {"Content-Type": "application/json"})

    # Then it is refused as invalid JSON, and Talon.One is not called
    assert answer.problems(400) == {("Invalid JSON", "")}
    assert gateway.talon_requests() == []


def test_moderately_nested_attributes_are_forwarded_unchanged(gateway: Gateway) -> None:
    # Given free-form attributes nested 32 levels deep, objects and arrays mixed
    inner = nested_objects(16, leaf='{"list":' + "[" * 16 + "7" + "]" * 16 + ',"n":1.5,"s":"deep"}')
    body = event_body('{"tree":' + inner + "}", session_id="nested-1")

    # When the event is posted
    answer = gateway.send("POST", "/v1/events", body.encode(), {"Content-Type": "application/json"})

    # Then Talon.One accepts it, having received exactly the bytes sent
    assert answer.status == 200, answer.body[:300]
    (received,) = gateway.talon_requests()
    assert received["body"] == body
    assert json.loads(answer.body)["event"]["attributes"]["tree"] == json.loads(inner)


def test_nesting_deep_enough_to_hurt_talon_one_is_refused(gateway: Gateway) -> None:
    """Far below the 100 000 levels above: a limit of the interpreter's stack is not enough.

    With json.loads (HEAD), the gateway's only limit was CPython's C recursion limit (about
    10 000 levels on 3.13): 5 000 levels reached Talon.One, and the sandbox failed on them
    (RecursionError in sandbox/model.py's deepcopy: 500, which the gateway answers as 502).
    """
    # Given attributes nested 5 000 levels deep (25 kB)
    body = event_body(nested_objects(5_000))

    # When the event is posted
    answer = gateway.send("POST", "/v1/events", body.encode(), {"Content-Type": "application/json"})

    # Then the gateway refuses it itself
    assert answer.problems(400) == {("Invalid JSON", "")}
    assert gateway.talon_requests() == []


# ----------------------------------------------------------------------------------------------
# Media type
# ----------------------------------------------------------------------------------------------

MULTIPART = (
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="type"\r\n\r\nviewed_promo\r\n'
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="sessionId"\r\n\r\nhardening-1\r\n'
    b"--XyZ--\r\n"
)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", VALID_EVENT),
        ("text/plain; charset=utf-8", VALID_EVENT),
        ("application/x-www-form-urlencoded", b"type=viewed_promo&sessionId=hardening-1"),
        ("application/x-www-form-urlencoded", VALID_EVENT),
        ("multipart/form-data; boundary=XyZ", MULTIPART),
        ("application/xml", b"<event><type>viewed_promo</type></event>"),
        ("application/vnd.api+json", VALID_EVENT),
    ],
)
def test_a_body_that_is_not_application_json_is_refused(
    gateway: Gateway, content_type: str, body: bytes
) -> None:
    # Given a body declared with another media type (some of them even holding JSON)
    # When it is posted
    answer = gateway.send("POST", "/v1/events", body, {"Content-Type": content_type})

    # Then it is refused as an unsupported media type, and Talon.One is not called
    assert answer.problems(415) == {("Unsupported Media Type", "")}
    assert gateway.talon_requests() == []


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8"]
)
def test_application_json_with_parameters_is_accepted(gateway: Gateway, content_type: str) -> None:
    # Given a valid event declared as application/json, with or without a charset
    # When it is posted
    answer = gateway.send("POST", "/v1/events", VALID_EVENT, {"Content-Type": content_type})

    # Then it is forwarded
    assert answer.status == 200, answer.body[:300]
    assert len(gateway.talon_requests()) == 1


@pytest.mark.parametrize("content_type", ["Application/JSON", "APPLICATION/JSON; charset=utf-8"])
def test_the_media_type_is_case_insensitive(gateway: Gateway, content_type: str) -> None:
    # Given a valid event declared as application/json in capitals
    # When it is posted
    answer = gateway.send("POST", "/v1/events", VALID_EVENT, {"Content-Type": content_type})

    # Then it is forwarded like any application/json body
    assert answer.status == 200, answer.body[:300]


# ----------------------------------------------------------------------------------------------
# Numbers
# ----------------------------------------------------------------------------------------------

FIVE_THOUSAND_DIGITS = "9" * 5000


def referral(campaign_id: str) -> str:
    return '{"campaignId":' + campaign_id + ',"advocateProfileIntegrationId":"advocate-1"}'


def session_item(quantity: str) -> str:
    return '{"cartItems":[{"name":"Shoes","sku":"SKU-1","quantity":' + quantity + ',"price":1}]}'


@pytest.mark.parametrize(
    ("function", "body", "pointer"),
    [
        ("create_referral", referral(str(2**63)), "/campaignId"),
        ("create_referral", referral(str(-(2**63) - 1)), "/campaignId"),
        ("create_referral", referral(str(2**64)), "/campaignId"),
        ("create_referral", referral(FIVE_THOUSAND_DIGITS), "/campaignId"),
        ("create_referral", referral("-" + FIVE_THOUSAND_DIGITS), "/campaignId"),
        ("update_customer_session", session_item(str(2**63)), "/cartItems/0/quantity"),
        ("track_event", event_body('{"n":' + FIVE_THOUSAND_DIGITS + "}"), "/attributes/n"),
        ("track_event", event_body('{"n":' + FIVE_THOUSAND_DIGITS + ".5}"), "/attributes/n"),
    ],
    ids=[
        "2**63",
        "-2**63-1",
        "2**64",
        "5000 digits",
        "-5000 digits",
        "quantity 2**63",
        "5000 digits attribute",
        "5000-digit float attribute",
    ],
)
def test_integers_beyond_64_bits_are_refused(
    function: str, body: str, pointer: str, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given an integer Talon.One cannot hold (64-bit)
    # When it is sent
    response = invoke(function, event_with(function, body=body))

    # Then it is refused, naming the field (or the whole body, when the parser refuses the
    # number itself), and Talon.One is not called
    assert refused(response, 400) in ({("Invalid value", pointer)}, {("Invalid JSON", "")})
    assert recorded_gateway.requests == []


@pytest.mark.parametrize(
    "literal",
    [str(2**63), str(-(2**63) - 1), str(2**64), str(10**40), "1e999", "-1e999"],
    ids=["2**63", "-2**63-1", "2**64", "10**40", "1e999", "-1e999"],
)
def test_large_numbers_in_free_form_attributes_go_to_talon_one_as_sent(
    literal: str, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given free-form attributes holding a number beyond 64 bits: valid JSON (RFC 8259 sets no
    # range), whose range only Talon.One's attribute definitions can judge
    body = event_body('{"n":' + literal + "}")

    # When the event is sent
    response = invoke("track_event", event_with("track_event", body=body))

    # Then it reaches Talon.One byte for byte, which answers for it (its 4xx would pass through)
    assert response["statusCode"] == 200, response["body"]
    assert [r.body for r in recorded_gateway.requests] == [body.encode()]


@pytest.mark.parametrize("value", [2**63 - 1, -(2**63)], ids=["2**63-1", "-2**63"])
def test_the_largest_64_bit_integers_are_forwarded(
    value: int, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given a campaign id at a bound of the 64-bit range
    body = referral(str(value))

    # When it is sent
    response = invoke("create_referral", event_with("create_referral", body=body))

    # Then it is forwarded unchanged
    assert response["statusCode"] == 200, response["body"]
    assert [r.body for r in recorded_gateway.requests] == [body.encode()]


NOT_FINITE = ["1e999", "-1e999", "NaN", "Infinity", "-Infinity", FIVE_THOUSAND_DIGITS + ".5"]
NOT_FINITE_IDS = ["1e999", "-1e999", "NaN", "Infinity", "-Infinity", "5000-digit float"]


@pytest.mark.parametrize("literal", NOT_FINITE, ids=NOT_FINITE_IDS)
def test_numbers_that_are_not_finite_are_refused_in_typed_fields(
    literal: str, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given a session total (a float64) that is not a finite number
    body = '{"total":' + literal + "}"

    # When it is sent
    response = invoke("update_customer_session", event_with("update_customer_session", body=body))

    # Then it is refused, naming the field (or the whole body, when the parser refuses the
    # number itself), and Talon.One is not called
    assert refused(response, 400) in ({("Invalid value", "/total")}, {("Invalid JSON", "")})
    assert recorded_gateway.requests == []


@pytest.mark.parametrize("literal", NOT_FINITE[2:5], ids=NOT_FINITE_IDS[2:5])
def test_not_a_number_and_infinity_literals_are_refused_in_attributes(
    literal: str, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given an event whose free-form attributes hold NaN or Infinity (not JSON numbers)
    body = event_body('{"n":' + literal + "}")

    # When it is sent
    response = invoke("track_event", event_with("track_event", body=body))

    # Then it is refused, and Talon.One is not called
    assert response["statusCode"] == 400, response["body"]
    assert recorded_gateway.requests == []


# ----------------------------------------------------------------------------------------------
# Path parameters
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "forwarded"),
    [
        ("/v1/coupon_reservations/coupons/a%2Fb", "/v1/coupon_reservations/coupons/a%2Fb"),
        ("/v1/coupon_reservations/coupons/%2F", "/v1/coupon_reservations/coupons/%2F"),
        ("/v1/coupon_reservations/coupons/a%2f..%2fb", "/v1/coupon_reservations/coupons/a%2F..%2Fb"),
        (
            "/v1/coupon_reservations/customerprofiles/SUMMER%2020%2F50%25",
            "/v1/coupon_reservations/customerprofiles/SUMMER%2020%2F50%25",
        ),
        ("/v1/customer_data/a%2F..%2F..%2Fsessions", "/v1/customer_data/a%2F..%2F..%2Fsessions"),
    ],
)
def test_an_encoded_slash_stays_inside_its_segment(gateway: Gateway, target: str, forwarded: str) -> None:
    # Given a path parameter holding "/" (percent-encoded, as one segment)
    method = "DELETE" if target.startswith("/v1/customer_data/") else "GET"

    # When the request is sent
    answer = gateway.send(method, target)

    # Then Talon.One gets the same single segment, the slash still encoded
    assert answer.status < 500, answer.body[:300]
    (received,) = gateway.talon_requests()
    assert received["path"] == forwarded


@pytest.mark.parametrize(
    "target",
    [
        "/v1/coupon_reservations/coupons/..",
        "/v1/coupon_reservations/coupons/.",
        "/v1/coupon_reservations/coupons/%2E%2E",
        "/v1/coupon_reservations/coupons/%2e",
        "/v1/customer_profiles/../inventory",
        "/v1/customer_profiles/%2E%2E/inventory?profile=true",
        "/v1/customer_data/..",
    ],
)
def test_dot_segments_are_refused(gateway: Gateway, target: str) -> None:
    # Given a path parameter that is "." or "..", literal or percent-encoded
    method = "DELETE" if target.startswith("/v1/customer_data/") else "GET"
    name = "integrationId"

    # When the request is sent
    answer = gateway.send(method, target)

    # Then the parameter is refused by name, and Talon.One is not called
    assert answer.problems(400) == {("Invalid value", name)}
    assert gateway.talon_requests() == []


@pytest.mark.parametrize(
    "encoded",
    ["%00", "a%00b", "%01", "a%09b", "a%0Ab", "a%0Db", "%1F", "%7F", "a%C2%85b", "a%E2%80%A8b", "a%E2%80%8B"],
    ids=["NUL", "NUL inside", "SOH", "TAB", "LF", "CR", "US", "DEL", "NEL", "LINE SEP", "ZERO WIDTH SP"],
)
def test_control_characters_in_a_path_parameter_are_refused(gateway: Gateway, encoded: str) -> None:
    # Given a coupon code holding a control or invisible format character
    # When its reservations are deleted
    answer = gateway.send(
        "DELETE",
        f"/v1/coupon_reservations/{encoded}",
        b'{"integrationIDs":["customer-1"]}',
        {"Content-Type": "application/json"},
    )

    # Then the parameter is refused by name, and Talon.One is not called
    assert answer.problems(400) == {("Invalid value", "couponValue")}
    assert gateway.talon_requests() == []


@pytest.mark.parametrize(
    "value", ["é", "Ünïcödé-Kunde", "日本語", "🎉🛒", "ß·ŝ", "e\u0301"], ids=lambda v: v.encode().hex()
)
def test_unicode_path_parameters_are_forwarded_as_percent_encoded_utf8(gateway: Gateway, value: str) -> None:
    # Given a customer id with non-ASCII characters, percent-encoded as UTF-8 (lower-case hex)
    encoded = quote(value, safe="")

    # When their reserved coupons are listed
    lower_hex = re.sub(r"%[0-9A-F]{2}", lambda escape: escape.group().lower(), encoded)
    answer = gateway.send("GET", f"/v1/coupon_reservations/coupons/{lower_hex}")

    # Then Talon.One gets the same UTF-8 bytes, percent-encoded (normalised to upper-case hex)
    assert answer.status == 200, answer.body[:300]
    (received,) = gateway.talon_requests()
    assert received["path"] == f"/v1/coupon_reservations/coupons/{encoded}"


# ----------------------------------------------------------------------------------------------
# Query parameters
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "profile=true&profile=false",
        "profile=false&profile=true",
        "referrals=true&profile=true&referrals=false",
        "profile=true&profile=",
    ],
)
def test_a_query_parameter_repeated_with_conflicting_values_is_refused(gateway: Gateway, query: str) -> None:
    # Given a flag given twice with different values
    name = "referrals" if query.startswith("referrals") else "profile"

    # When the inventory is asked for
    answer = gateway.send("GET", f"/v1/customer_profiles/customer-1/inventory?{query}")

    # Then the flag is refused by name (neither value is guessed), and Talon.One is not called
    assert answer.problems(400) == {("Invalid value", name)}
    assert gateway.talon_requests() == []


# ----------------------------------------------------------------------------------------------
# Bodies that are empty, null or not an object
# ----------------------------------------------------------------------------------------------

ROUTES_WITH_A_BODY = [
    ("POST", "/v1/events"),
    ("POST", "/v1/referrals"),
    ("POST", "/v1/coupon_reservations/SUMMER20"),
    ("DELETE", "/v1/coupon_reservations/SUMMER20"),
    ("PUT", "/v1/customer_profiles/customer-1"),
    ("PUT", "/v1/customer_sessions/session-1"),
    ("PUT", "/v2/customer_sessions/session-1"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES_WITH_A_BODY)
@pytest.mark.parametrize("body", [b"", b"null"], ids=["empty", "null"])
def test_an_empty_or_null_body_is_refused(gateway: Gateway, method: str, path: str, body: bytes) -> None:
    # Given a route whose body is required, and an empty body or the JSON null
    # When the request is sent
    answer = gateway.send(method, path, body, {"Content-Type": "application/json"})

    # Then the body is reported missing, and Talon.One is not called
    assert answer.problems(400) == {("Missing field", "")}
    assert gateway.talon_requests() == []


@pytest.mark.parametrize("body", [b"[]", b'"event"', b"0", b"true", b"   ", b"{"], ids=repr)
def test_a_body_that_is_not_an_object_is_refused(gateway: Gateway, body: bytes) -> None:
    # Given a body that is JSON but not an object, or not JSON at all
    # When it is posted as an event
    answer = gateway.send("POST", "/v1/events", body, {"Content-Type": "application/json"})

    # Then the whole body is refused, and Talon.One is not called
    problems = answer.problems(400)
    assert {pointer for _, pointer in problems} == {""}
    assert gateway.talon_requests() == []


# ----------------------------------------------------------------------------------------------
# Headers
# ----------------------------------------------------------------------------------------------

LONG = 60_000  # characters: under the 64 KiB header line the local runner's http.server accepts


def test_an_extremely_long_authorization_header_is_refused(gateway: Gateway) -> None:
    # Given a bearer token of 60 000 characters
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + "t" * LONG}

    # When an event is posted with it
    answer = gateway.send("POST", "/v1/events", VALID_EVENT, headers)

    # Then the caller is not authenticated, and Talon.One is not called
    answer.problems(401)
    assert answer.headers.get("www-authenticate")
    assert gateway.talon_requests() == []


def test_an_extremely_long_idempotency_key_is_refused(gateway: Gateway) -> None:
    # Given an Idempotency-Key of 60 000 characters
    headers = {"Content-Type": "application/json", "Idempotency-Key": "k" * LONG}

    # When an event is posted with it
    answer = gateway.send("POST", "/v1/events", VALID_EVENT, headers)

    # Then the key is refused by name, and Talon.One is not called
    assert answer.problems(400) == {("Invalid idempotency key", "idempotency-key")}
    assert gateway.talon_requests() == []


def test_an_extremely_long_unknown_header_is_neither_a_failure_nor_forwarded(gateway: Gateway) -> None:
    # Given a header the gateway does not use, 60 000 characters long
    headers = {"Content-Type": "application/json", "X-Storefront-Trace": "x" * LONG}

    # When an event is posted with it
    answer = gateway.send("POST", "/v1/events", VALID_EVENT, headers)

    # Then the event is delivered, without that header
    assert answer.status == 200, answer.body[:300]
    (received,) = gateway.talon_requests()
    assert "x-storefront-trace" not in {name.lower() for name, _ in received["headers"]}


@pytest.mark.parametrize(
    ("name", "value", "status", "problem"),
    [
        ("Authorization", "Bearer " + "t" * 1_000_000, 401, None),
        ("Idempotency-Key", "k" * 1_000_000, 400, ("Invalid idempotency key", "idempotency-key")),
        ("webhook-signature", "v1," + "s" * 1_000_000, 401, None),
        ("Content-Type", "text/" + "x" * 1_000_000, 415, ("Unsupported Media Type", "")),
    ],
    ids=["Authorization", "Idempotency-Key", "webhook-signature", "Content-Type"],
)
def test_a_header_value_of_a_megabyte_is_refused(
    name: str,
    value: str,
    status: int,
    problem: tuple[str, str] | None,
    recorded_gateway: RecordingUpstream,
    invoke: Invoke,
) -> None:
    # Given a header value of 1 MB (no HTTP server in front: straight into the function)
    # When an event is sent with it
    response = invoke("track_event", event_with("track_event", headers={name: value}))

    # Then it is refused, and Talon.One is not called
    problems = refused(response, status)
    if problem is not None:
        assert problems == {problem}
    assert recorded_gateway.requests == []


def test_a_unicode_idempotency_key_sent_over_http_is_refused(gateway: Gateway) -> None:
    # Given an Idempotency-Key with a non-ASCII character, sent as UTF-8 bytes
    headers: dict[str, str | bytes | None] = {
        "Content-Type": "application/json",
        "Idempotency-Key": "commande-é-1".encode(),
    }

    # When an event is posted with it
    answer = gateway.send("POST", "/v1/events", VALID_EVENT, headers)

    # Then the key is refused by name, and Talon.One is not called
    assert answer.problems(400) == {("Invalid idempotency key", "idempotency-key")}
    assert gateway.talon_requests() == []


@pytest.mark.parametrize(
    "key",
    ["clé-1", "ключ-1", "🔑-1", "full\uff0dwidth", "nbsp\u00a0key", "tab\tkey", "bell\x07", "", "k" * 256],
    ids=["latin", "cyrillic", "emoji", "fullwidth", "nbsp", "tab", "control", "empty", "256 chars"],
)
def test_an_idempotency_key_that_is_not_printable_ascii_is_refused(
    key: str, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given a write with an Idempotency-Key that is not 1 to 255 printable ASCII characters
    event = event_with("track_event", headers={"Idempotency-Key": key})

    # When it is sent
    response = invoke("track_event", event)

    # Then the key is refused by name, and Talon.One is not called
    assert refused(response, 400) == {("Invalid idempotency key", "idempotency-key")}
    assert recorded_gateway.requests == []


def test_an_idempotency_key_of_255_printable_characters_is_forwarded(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given the longest key allowed, with punctuation and a space
    key = ("order 1001/paid:" * 16)[:255]

    # When a write is sent with it
    response = invoke("track_event", event_with("track_event", headers={"Idempotency-Key": key}))

    # Then Talon.One gets the request with the same key
    assert response["statusCode"] == 200, response["body"]
    assert [r.headers.get("idempotency-key") for r in recorded_gateway.requests] == [key]


def test_a_bearer_token_with_a_lone_surrogate_is_refused(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given an Authorization header holding a lone UTF-16 surrogate
    event = event_with("track_event", headers={"Authorization": "Bearer \ud800"})

    # When the event is sent
    response = invoke("track_event", event)

    # Then the caller is not authenticated (rather than an internal error)
    refused(response, 401)
    assert recorded_gateway.requests == []
