"""Authentication: ApiKey-v1 and the legacy HMAC-MD5 Content-Signature (spec/README.md)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_APPLICATION_ID,
    DEFAULT_APPLICATION_KEY_HEX,
    Sandbox,
    SandboxCredentials,
    content_signature,
    sign,
)

# The test vectors of spec/README.md.
VECTOR_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
VECTOR_BODY = b'{"profileId":"customer-1","type":"viewed_promo","attributes":{},"sessionId":"session-1"}'
VECTOR_BODY_SIGNATURE = "signer=42; signature=5d4f83e6b68994861e62e82a8d31f9de"
VECTOR_EMPTY_SIGNATURE = "signer=42; signature=8cf892472b6c896c5c109546528fd2db"

Signed = Callable[..., httpx.Response]


def test_signature_function_matches_both_test_vectors() -> None:
    # Given the README's application key and signer
    # When signing its body and the empty body
    # Then the header values are exactly the documented ones
    assert content_signature("42", VECTOR_KEY, VECTOR_BODY) == VECTOR_BODY_SIGNATURE
    assert content_signature("42", VECTOR_KEY, b"") == VECTOR_EMPTY_SIGNATURE
    assert sign(b"", VECTOR_KEY) == "8cf892472b6c896c5c109546528fd2db"
    assert DEFAULT_APPLICATION_KEY_HEX == VECTOR_KEY
    assert DEFAULT_APPLICATION_ID == "42"


def test_body_test_vector_is_accepted_over_http(anon_client: httpx.Client) -> None:
    # Given the README's exact body bytes and its signature header, no API key
    headers = {"Content-Signature": VECTOR_BODY_SIGNATURE, "Content-Type": "application/json"}
    # When tracking the event
    response = anon_client.post("/v1/events", content=VECTOR_BODY, headers=headers)
    # Then it is authenticated and processed
    assert response.status_code == 200
    assert response.json()["event"]["type"] == "viewed_promo"


def test_empty_body_test_vector_is_accepted_over_http(anon_client: httpx.Client) -> None:
    # Given a request without body signed with the README's empty-body signature
    # When listing reserved coupons
    response = anon_client.get(
        "/v1/coupon_reservations/coupons/customer-1", headers={"Content-Signature": VECTOR_EMPTY_SIGNATURE}
    )
    # Then it is accepted
    assert response.status_code == 200


def test_missing_credentials_are_refused(anon_client: httpx.Client, sandbox: Sandbox) -> None:
    # Given no Authorization and no Content-Signature
    # When calling an operation
    response = anon_client.post("/v1/events", json={"type": "x", "attributes": {}, "sessionId": "s"})
    # Then 401 in the error shape, received but not processed
    assert response.status_code == 401
    assert response.json()["message"] == "Unauthorized"
    assert sandbox.counts("trackEvent") == {"received": 1, "processed": 0}


@pytest.mark.parametrize(
    "authorization",
    ["ApiKey-v1 wrong-key", "Bearer " + DEFAULT_API_KEY, "ApiKey-v1", DEFAULT_API_KEY, "ApiKey-v2 x"],
)
def test_wrong_api_key_is_refused(anon_client: httpx.Client, authorization: str) -> None:
    # Given an Authorization header that is not a valid ApiKey-v1 credential
    # When calling an operation
    response = anon_client.get("/v1/coupon_reservations/coupons/c", headers={"Authorization": authorization})
    # Then 401
    assert response.status_code == 401


def test_api_key_scheme_name_is_case_insensitive(anon_client: httpx.Client) -> None:
    # Given the scheme spelled in another case (RFC 9110: schemes are case-insensitive)
    response = anon_client.get(
        "/v1/coupon_reservations/coupons/c", headers={"Authorization": f"apikey-V1 {DEFAULT_API_KEY}"}
    )
    # Then it is accepted
    assert response.status_code == 200


def test_signature_over_other_bytes_is_refused(anon_client: httpx.Client) -> None:
    # Given a signature of the body re-serialized with spaces, not of the bytes sent
    sent = b'{"type": "x", "attributes": {}, "sessionId": "s"}'
    signed_bytes = b'{"type":"x","attributes":{},"sessionId":"s"}'
    signature = content_signature(DEFAULT_APPLICATION_ID, DEFAULT_APPLICATION_KEY_HEX, signed_bytes)
    # When sending
    response = anon_client.post("/v1/events", content=sent, headers={"Content-Signature": signature})
    # Then 401: the signature covers the exact bytes on the wire
    assert response.status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        "signer=43; signature=8cf892472b6c896c5c109546528fd2db",  # wrong signer
        "signer=42; signature=00000000000000000000000000000000",  # wrong signature
        "signer=42",  # incomplete
        "garbage",
    ],
)
def test_invalid_content_signature_is_refused(anon_client: httpx.Client, header: str) -> None:
    response = anon_client.get("/v1/coupon_reservations/coupons/c", headers={"Content-Signature": header})
    assert response.status_code == 401


def test_present_header_must_be_valid_even_when_the_other_is(signed: Signed) -> None:
    # Given a valid signature together with a wrong API key
    # When calling a v1 operation
    response = signed("GET", "/v1/coupon_reservations/coupons/c", Authorization="ApiKey-v1 nope")
    # Then 401: every header that is present must be valid
    assert response.status_code == 401


def test_valid_api_key_with_invalid_signature_is_refused(client: httpx.Client) -> None:
    response = client.get(
        "/v1/coupon_reservations/coupons/c", headers={"Content-Signature": "signer=42; signature=00"}
    )
    assert response.status_code == 401


def test_v2_session_update_refuses_signature_only(signed: Signed, sandbox: Sandbox) -> None:
    # Given a correctly signed v2 session update without API key
    # When sending it
    response = signed("PUT", "/v2/customer_sessions/s-v2", b'{"customerSession":{}}')
    # Then 401 (the v2 operation accepts only ApiKey-v1) and no session was created
    assert response.status_code == 401
    assert "Authorization" in response.json()["errors"][0]["details"]
    assert "s-v2" not in sandbox.state.sessions


def test_v2_session_update_ignores_a_signature_next_to_a_valid_key(client: httpx.Client) -> None:
    # Given a valid API key and a bogus Content-Signature (not a scheme of the v2 operation)
    response = client.put(
        "/v2/customer_sessions/s-v2b",
        json={"customerSession": {}},
        headers={"Content-Signature": "signer=1; signature=00"},
    )
    # Then the signature is ignored
    assert response.status_code == 200


def test_the_legacy_operations_accept_the_signature(signed: Signed, uid: Callable[[str], str]) -> None:
    # Given signed requests for the 4 legacy operations (the 2020 document lists both schemes)
    pid = uid("p")
    # When sending them without API key
    statuses = [
        signed("PUT", f"/v1/customer_profiles/{pid}", b'{"attributes":{"a":1}}').status_code,
        signed("PUT", f"/v1/customer_sessions/{uid('s')}", f'{{"profileId":"{pid}"}}'.encode()).status_code,
        signed("POST", "/v1/events", b'{"type":"t","attributes":{},"sessionId":"s-sig"}').status_code,
        signed("GET", f"/v1/coupon_reservations/coupons/{pid}").status_code,
    ]
    # Then all succeed
    assert statuses == [200, 200, 200, 200]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/coupon_reservations/SUMMER20", b'{"integrationIDs":["sig"]}'),
        ("GET", "/v1/customer_profiles/advocate-1/inventory", b""),
        ("DELETE", "/v1/customer_data/advocate-1", b""),
        ("POST", "/v1/referrals", b'{"campaignId":5,"advocateProfileIntegrationId":"sig"}'),
        ("PUT", "/v2/customer_profiles/sig", b"{}"),
        ("POST", "/v3/events", b'{"profileId":"p","type":"t","integrationId":"sig"}'),
        ("GET", "/v1/loyalty_programs/1/profile/loyal-1/balances", b""),
    ],
)
def test_todays_operations_accept_only_the_api_key(
    signed: Signed, sandbox: Sandbox, method: str, path: str, body: bytes
) -> None:
    # Given a correctly signed request without API key to one of today's operations
    response = signed(method, path, body)
    # Then 401: today's operations list api_key_v1 only, and nothing was processed
    assert response.status_code == 401
    assert "Authorization" in response.json()["errors"][0]["details"]
    assert all(c["processed"] == 0 for c in sandbox.app.all_counts().values())


def test_rotated_key_replaces_the_old_one(sandbox: Sandbox, anon_client: httpx.Client) -> None:
    # Given the key rotated without keeping the old one
    sandbox.rotate_api_key("rotated-key-1")
    path = "/v1/coupon_reservations/coupons/c"
    # When calling with each key
    old = anon_client.get(path, headers={"Authorization": f"ApiKey-v1 {DEFAULT_API_KEY}"})
    new = anon_client.get(path, headers={"Authorization": "ApiKey-v1 rotated-key-1"})
    # Then only the new one works
    assert (old.status_code, new.status_code) == (401, 200)


def test_rotation_can_keep_the_old_key(sandbox: Sandbox, anon_client: httpx.Client) -> None:
    sandbox.rotate_api_key("rotated-key-2", keep_old=True)
    path = "/v1/coupon_reservations/coupons/c"
    old = anon_client.get(path, headers={"Authorization": f"ApiKey-v1 {DEFAULT_API_KEY}"})
    new = anon_client.get(path, headers={"Authorization": "ApiKey-v1 rotated-key-2"})
    assert (old.status_code, new.status_code) == (200, 200)
    assert sandbox.credentials.api_keys == (DEFAULT_API_KEY, "rotated-key-2")


def test_credentials_from_environment() -> None:
    # Given the documented variables
    env = {
        "TALON_SANDBOX_API_KEYS": "k1, k2",
        "TALON_SANDBOX_APPLICATION_ID": "7",
        "TALON_SANDBOX_APPLICATION_KEY": "00ff",
    }
    # When reading credentials from them
    creds = SandboxCredentials.from_env(env)
    # Then they override the defaults, and unset ones keep the defaults
    assert creds == SandboxCredentials(api_keys=("k1", "k2"), application_id="7", application_key_hex="00ff")
    assert SandboxCredentials.from_env({}) == SandboxCredentials()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"api_keys": []}, "api_keys"),
        ({"api_keys": ["has space"]}, "api_keys"),
        ({"application_id": "app"}, "application_id"),
        ({"application_key_hex": "zz"}, "hex"),
        ({"application_key_hex": ""}, "must not be empty"),
    ],
)
def test_invalid_credentials_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SandboxCredentials(**kwargs)  # type: ignore[arg-type]
