"""Each of the 11 operations end to end: its events/ file through its handler to Talon.One over HTTP.

Talon.One is a recording server on 127.0.0.1; Secrets Manager is moto over HTTP. Expected
values are written out here independently of the gateway's code: encoded targets by hand,
signatures with hmac from the contract's test vectors.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

import pytest

from tests.conftest import Invoke, header, load_event
from tests.support import aws
from tests.support.upstream import RecordingUpstream

# The answer Talon.One gives in these tests carries a field the spec does not know.
UNKNOWN_FIELD_ANSWER = b'{"totalResultSize":1,"data":[],"fieldNotInTheSpec":{"kept":true}}'


@dataclass(frozen=True)
class Case:
    function: str
    method: str
    target: str  # what must reach Talon.One: percent-encoded path and query
    success: int = 200


CASES = [
    Case("create_coupon_reservation", "POST", "/v1/coupon_reservations/SUMMER%2020%2F50%25"),
    Case("delete_coupon_reservation", "DELETE", "/v1/coupon_reservations/SUMMER%2020%2F50%25", 204),
    Case("get_reserved_coupons", "GET", "/v1/coupon_reservations/coupons/customer-1001"),
    Case("get_reserved_customers", "GET", "/v1/coupon_reservations/customerprofiles/SUMMER%2020%2F50%25"),
    Case("create_referral", "POST", "/v1/referrals"),
    Case(
        "get_customer_inventory",
        "GET",
        "/v1/customer_profiles/jane.doe%2Bshop%40example.com/inventory?profile=true&referrals=true",
    ),
    Case("delete_customer_data", "DELETE", "/v1/customer_data/jane.doe%2Bshop%40example.com", 204),
    Case("track_event", "POST", "/v1/events"),
    Case("update_customer_profile", "PUT", "/v1/customer_profiles/jane.doe%2Bshop%40example.com"),
    Case("update_customer_session", "PUT", "/v1/customer_sessions/cart-7f3a%2F2026"),
    Case("update_customer_session_v2", "PUT", "/v2/customer_sessions/cart-7f3a%2F2026"),
]


def expected_signature(body: bytes) -> str:
    digest = hmac.new(bytes.fromhex(aws.APPLICATION_KEY), body, hashlib.md5).hexdigest()
    return f"signer={aws.APPLICATION_ID}; signature={digest}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.function)
def test_operation_is_forwarded_signed_and_answered_unchanged(
    case: Case, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given Talon.One answers with a body holding a field the spec does not know
    event = load_event(case.function)
    if case.success == 204:
        recorded_gateway.answer(204, b"", content_type=None)
    else:
        recorded_gateway.answer(case.success, UNKNOWN_FIELD_ANSWER, "application/json; charset=utf-8")

    # When the function is invoked with its events/ file
    response = invoke(case.function, event)

    # Then exactly one request reached Talon.One, with the method and the encoded target
    assert len(recorded_gateway.requests) == 1
    sent = recorded_gateway.requests[0]
    assert (sent.method, sent.target) == (case.method, case.target)
    # and the body bytes the caller sent, unchanged (or none)
    expected_body = event["body"].encode() if event["body"] is not None else b""
    assert sent.body == expected_body
    # and both authentication headers (v2 accepts the API key only)
    assert sent.headers["authorization"] == f"ApiKey-v1 {aws.API_KEY}"
    if case.function == "update_customer_session_v2":
        assert "content-signature" not in sent.headers
    else:
        assert sent.headers["content-signature"] == expected_signature(expected_body)
    # and Talon.One's status, content type and body come back unchanged
    assert response["statusCode"] == case.success
    if case.success == 204:
        assert response["body"] == ""
    else:
        assert response["body"].encode() == UNKNOWN_FIELD_ANSWER
        assert header(response, "Content-Type") == "application/json; charset=utf-8"
    # with the correlation id of the API Gateway request
    assert header(response, "X-Correlation-Id") == event["requestContext"]["requestId"]


def test_signatures_match_the_contract_test_vectors(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given the application id 42 and key of spec/README.md (the test deployment's credentials)
    # When the event of the contract's first vector is tracked, and a body-less request is sent
    invoke("track_event", load_event("track_event"))
    invoke("get_reserved_coupons", load_event("get_reserved_coupons"))

    # Then the signatures are the vectors' values
    with_body, without_body = recorded_gateway.requests
    assert with_body.headers["content-signature"] == "signer=42; signature=5d4f83e6b68994861e62e82a8d31f9de"
    assert (
        without_body.headers["content-signature"] == "signer=42; signature=8cf892472b6c896c5c109546528fd2db"
    )


def test_omitted_fields_stay_omitted_and_empty_ones_stay_empty(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given a cart update that omits state and profile attributes but empties couponCodes
    event = load_event("update_customer_session_v2")
    event["body"] = json.dumps({"customerSession": {"couponCodes": [], "referralCode": ""}})

    # When it is forwarded
    invoke("update_customer_session_v2", event)

    # Then Talon.One receives no default (no "state": "open") and the empty values as sent
    forwarded = json.loads(recorded_gateway.requests[0].body)
    assert forwarded == {"customerSession": {"couponCodes": [], "referralCode": ""}}


@pytest.mark.parametrize(
    ("credentials", "authorization", "signature"),
    [
        pytest.param({"applicationId": None, "applicationKey": None}, True, False, id="api-key-only"),
        pytest.param({"apiKey": None}, False, True, id="application-key-only"),
        pytest.param({"applicationId": 42}, True, True, id="numeric-application-id"),
    ],
)
def test_authentication_follows_the_configured_credentials(
    credentials: dict[str, object],
    authorization: bool,
    signature: bool,
    recorded_gateway: RecordingUpstream,
    moto_endpoint: str,
    invoke: Invoke,
) -> None:
    # Given the Talon.One secret holds only some of the credentials
    aws.set_talon_credentials(moto_endpoint, aws.talon_credentials(**credentials))
    try:
        # When an event is tracked
        response = invoke("track_event", load_event("track_event"))
    finally:
        aws.set_talon_credentials(moto_endpoint, aws.talon_credentials())

    # Then it carries exactly the headers those credentials allow
    assert response["statusCode"] == 200
    sent = recorded_gateway.requests[0].headers
    assert ("authorization" in sent) is authorization
    assert ("content-signature" in sent) is signature
    if signature:
        assert sent["content-signature"].startswith("signer=42; ")


def test_v2_session_update_without_api_key_is_a_clear_configuration_error(
    recorded_gateway: RecordingUpstream, moto_endpoint: str, invoke: Invoke
) -> None:
    # Given the secret holds only the legacy application id and key
    aws.set_talon_credentials(moto_endpoint, aws.talon_credentials(apiKey=None))
    try:
        # When a v2 session update arrives
        response = invoke("update_customer_session_v2", load_event("update_customer_session_v2"))
    finally:
        aws.set_talon_credentials(moto_endpoint, aws.talon_credentials())

    # Then the caller learns the gateway lacks an API key, and Talon.One is not called
    assert response["statusCode"] == 500
    assert "requires a Talon.One API key" in json.loads(response["body"])["message"]
    assert aws.APPLICATION_KEY not in response["body"]
    assert recorded_gateway.requests == []


def test_base64_encoded_bodies_are_forwarded_decoded(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given API Gateway delivered the body base64-encoded
    event = load_event("track_event")
    raw = event["body"].encode()
    event["body"] = base64.b64encode(raw).decode()
    event["isBase64Encoded"] = True

    # When it is forwarded
    response = invoke("track_event", event)

    # Then Talon.One receives (and the signature covers) the decoded bytes
    assert response["statusCode"] == 200
    assert recorded_gateway.requests[0].body == raw
    assert (
        recorded_gateway.requests[0].headers["content-signature"].endswith("5d4f83e6b68994861e62e82a8d31f9de")
    )


def test_the_connection_pool_is_reused_across_warm_invocations(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given a warm execution environment
    from talon_gateway.upstream import transport

    invoke("get_reserved_coupons", load_event("get_reserved_coupons"))
    client = transport.get_pool()

    # When further invocations happen
    invoke("get_reserved_coupons", load_event("get_reserved_coupons"))
    invoke("track_event", load_event("track_event"))

    # Then they share the one client (keep-alive pool), built lazily once
    assert transport.get_pool() is client
    assert len(recorded_gateway.requests) == 3
