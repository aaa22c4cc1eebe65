"""Who may call the gateway: a signature matrix over Standard Webhooks and bearer tokens.

Every row goes through a function's handler, with Secrets Manager in moto over HTTP and a
recording Talon.One on loopback. Each row asserts the status and whether Talon.One was called:
a refused request must never reach it. Webhook signatures are computed here with hmac, hashlib
and base64, independently of the library the gateway verifies them with.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import Invoke, header, load_event
from tests.support import aws, log_tap, webhooks
from tests.support.upstream import RecordingUpstream

Event = dict[str, Any]
SetInbound = Callable[[dict[str, Any]], None]

GET = "get_reserved_coupons"  # a read: bearer tokens only
POST = "track_event"  # a write with a body: the signature covers its exact bytes
ERASE = "delete_customer_data"  # a bodyless write that takes bearer tokens only
ANSWER = b'{"totalResultSize":0,"data":[]}'

# A second webhook secret and bearer token, for rotation (and as the "wrong" ones).
OTHER_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"rotated-webhook-secret-32-bytes!").decode()
OTHER_BEARER_TOKEN = "rotated-token-2027-0123456789abcdef"
SIX_MINUTES = 6 * 60
FOUR_MINUTES = 4 * 60
# A well-formed signature that matches nothing (32 zero bytes).
WRONG_SIGNATURE = "v1," + base64.b64encode(bytes(32)).decode()
TAMPERED_BODY = '{"profileId":"customer-2","type":"viewed_promo","attributes":{},"sessionId":"session-1"}'

# Talon.One's error shape, with a fixed text: the same for every reason a caller is refused.
UNAUTHORIZED_BODY = {
    "message": "Authentication required",
    "errors": [{"title": "Unauthorized", "details": "Authentication required", "source": {}}],
    "StatusCode": 401,
}


def sign(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """The Standard Webhooks v1 signature over the literal timestamp header, as a sender computes it."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    return webhooks.hmac_signature(key, f"{msg_id}.{timestamp}.".encode() + body)


def with_headers(event: Event, headers: dict[str, str]) -> Event:
    """The event with exactly these headers, in both of API Gateway's header maps."""
    return event | {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
    }


def without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() != name.lower()}


@dataclass(frozen=True)
class Signed:
    """A Standard Webhooks request, built when the row runs (timestamps are relative to now)."""

    function: str = POST
    secret: str = aws.WEBHOOK_SECRET
    age: int = 0  # seconds before now (negative: in the future)
    # a webhook-timestamp signed as is: a literal, or a spelling of now (made when the row runs)
    timestamp: str | Callable[[int], str] | None = None
    signature: Callable[[str], str] = field(default=lambda valid: valid)  # from the valid header
    sent_body: str | None = None  # the body sent, when not the one signed
    omit: str | None = None  # a webhook header left out
    spell: Callable[[str], str] = field(default=lambda name: name)  # header-name spelling
    base64_body: bool = False  # sent as API Gateway sends binary bodies
    authorization: str | None = None  # a bearer token presented as well
    msg_id: str | None = None  # a literal webhook-id (else a fresh one)

    def build(self) -> Event:
        event = load_event(self.function)
        body: str = event["body"] or ""
        now = int(time.time())
        if self.timestamp is None:
            timestamp = str(now - self.age)
        else:
            timestamp = self.timestamp if isinstance(self.timestamp, str) else self.timestamp(now)
        # A fresh id per request: webhook ids are single-use across the gateway.
        msg_id = self.msg_id or f"msg_{uuid.uuid4().hex}"
        valid = sign(self.secret, msg_id, timestamp, body.encode())
        signature_headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": self.signature(valid),
        }
        headers = without(event["headers"], "Authorization")
        headers |= {self.spell(k): v for k, v in signature_headers.items() if k != self.omit}
        if self.authorization is not None:
            headers["Authorization"] = self.authorization
        event = with_headers(event, headers)
        if self.sent_body is not None:
            event["body"] = self.sent_body
        if self.base64_body:
            event |= {"body": base64.b64encode(body.encode()).decode(), "isBase64Encoded": True}
        return event


@dataclass(frozen=True)
class Bearer:
    """A backend's request with this Authorization header (None: no header at all)."""

    authorization: str | None
    function: str = GET

    def build(self) -> Event:
        event = load_event(self.function)
        headers = without(event["headers"], "Authorization")
        if self.authorization is not None:
            headers["Authorization"] = self.authorization
        return with_headers(event, headers)


@dataclass(frozen=True)
class Row:
    request: Signed | Bearer
    status: int
    inbound: dict[str, Any] | None = None  # the inbound secret during the row (None: the default)


ROTATION: dict[str, list[str]] = {
    "webhookSecrets": [OTHER_WEBHOOK_SECRET, aws.WEBHOOK_SECRET],
    "bearerTokens": [OTHER_BEARER_TOKEN, aws.BEARER_TOKEN],
}
NOTHING_CONFIGURED: dict[str, list[str]] = {"webhookSecrets": [], "bearerTokens": []}
MIXED_CASE = {"webhook-id": "Webhook-Id", "webhook-timestamp": "webhook-TIMESTAMP"}

MATRIX = [
    # Standard Webhooks: on writes only, erasure excepted
    pytest.param(Row(Signed(), 200), id="webhook-valid-post"),
    pytest.param(Row(Signed(GET), 401), id="webhook-on-a-read"),
    pytest.param(Row(Signed(ERASE), 401), id="webhook-on-erasure"),
    pytest.param(Row(Signed(secret=OTHER_WEBHOOK_SECRET), 200, ROTATION), id="webhook-rotation-new-secret"),
    pytest.param(Row(Signed(secret=aws.WEBHOOK_SECRET), 200, ROTATION), id="webhook-rotation-old-secret"),
    pytest.param(Row(Signed(secret=OTHER_WEBHOOK_SECRET), 401), id="webhook-wrong-secret"),
    pytest.param(Row(Signed(sent_body=TAMPERED_BODY), 401), id="webhook-tampered-body"),
    pytest.param(Row(Signed(age=SIX_MINUTES), 401), id="webhook-timestamp-6min-old"),
    pytest.param(Row(Signed(age=-SIX_MINUTES), 401), id="webhook-timestamp-6min-ahead"),
    pytest.param(Row(Signed(age=FOUR_MINUTES), 200), id="webhook-timestamp-4min-old"),
    pytest.param(Row(Signed(timestamp="yesterday"), 401), id="webhook-timestamp-not-numeric"),
    # Laxer spellings of a valid timestamp, each signed as sent: only decimal seconds are read
    pytest.param(Row(Signed(timestamp=lambda now: f"{now:.4e}"), 401), id="webhook-timestamp-scientific"),
    pytest.param(Row(Signed(timestamp=lambda now: f"{now}.9"), 401), id="webhook-timestamp-fraction"),
    pytest.param(Row(Signed(timestamp=lambda now: f"+{now}"), 401), id="webhook-timestamp-plus-sign"),
    pytest.param(Row(Signed(timestamp=lambda now: f" {now}"), 401), id="webhook-timestamp-space"),
    pytest.param(Row(Signed(timestamp=lambda now: f"0{now}"), 401), id="webhook-timestamp-leading-zero"),
    pytest.param(Row(Signed(omit="webhook-id"), 401), id="webhook-id-missing"),
    pytest.param(Row(Signed(omit="webhook-timestamp"), 401), id="webhook-timestamp-missing"),
    pytest.param(Row(Signed(omit="webhook-signature"), 401), id="webhook-signature-missing"),
    pytest.param(Row(Signed(signature=lambda _: "v1abc"), 401), id="signature-no-comma"),
    pytest.param(
        Row(Signed(signature=lambda valid: "v2," + valid.removeprefix("v1,")), 401),
        id="signature-unknown-version-only",
    ),
    pytest.param(Row(Signed(signature=lambda _: "v1,!!!not-base64"), 401), id="signature-not-base64"),
    pytest.param(Row(Signed(signature=lambda _: ""), 401), id="signature-empty"),
    pytest.param(
        Row(Signed(signature=lambda valid: f"{WRONG_SIGNATURE} {valid}"), 200),
        id="signature-wrong-then-right",
    ),
    pytest.param(Row(Signed(signature=lambda _: WRONG_SIGNATURE), 401), id="signature-wrong-only"),
    pytest.param(Row(Signed(signature=lambda valid: f"{valid} junk"), 401), id="signature-trailing-junk"),
    pytest.param(Row(Signed(signature=lambda valid: f"{valid}junk"), 401), id="signature-junk-appended"),
    pytest.param(Row(Signed(signature=lambda valid: valid.rstrip("=")), 401), id="signature-unpadded"),
    pytest.param(Row(Signed(signature=lambda valid: f"{valid} "), 401), id="signature-trailing-space"),
    pytest.param(Row(Signed(signature=lambda valid: f"{valid}  {valid}"), 401), id="signature-double-space"),
    pytest.param(Row(Signed(signature=lambda valid: f"{valid} {valid}"), 200), id="signature-listed-twice"),
    pytest.param(Row(Signed(msg_id="msg.1"), 401), id="webhook-id-with-a-dot"),
    pytest.param(Row(Signed(msg_id="msg 1"), 401), id="webhook-id-with-a-space"),
    pytest.param(Row(Signed(msg_id="x" * 256), 401), id="webhook-id-too-long"),
    pytest.param(Row(Signed(spell=str.lower), 200), id="header-names-lower-case"),
    pytest.param(Row(Signed(spell=str.title), 200), id="header-names-title-case"),
    pytest.param(Row(Signed(spell=str.upper), 200), id="header-names-upper-case"),
    pytest.param(
        Row(Signed(spell=lambda name: MIXED_CASE.get(name, name.upper())), 200), id="header-names-mixed-case"
    ),
    pytest.param(Row(Signed(base64_body=True), 200), id="webhook-base64-body"),
    pytest.param(Row(Signed(authorization=f"Bearer {aws.BEARER_TOKEN}"), 200), id="webhook-and-valid-bearer"),
    pytest.param(Row(Signed(authorization="Bearer wrong-token"), 401), id="webhook-and-wrong-bearer"),
    pytest.param(
        Row(Signed(secret=OTHER_WEBHOOK_SECRET, authorization=f"Bearer {aws.BEARER_TOKEN}"), 401),
        id="wrong-webhook-and-valid-bearer",
    ),
    # Bearer tokens
    pytest.param(Row(Bearer(f"Bearer {aws.BEARER_TOKEN}"), 200), id="bearer-valid-get"),
    pytest.param(Row(Bearer(f"Bearer {aws.BEARER_TOKEN}", POST), 200), id="bearer-valid-post"),
    pytest.param(Row(Bearer("Bearer wrong-token"), 401), id="bearer-invalid-token"),
    pytest.param(Row(Bearer("Bearer "), 401), id="bearer-empty-token"),
    pytest.param(Row(Bearer("Bearer"), 401), id="bearer-scheme-only"),
    pytest.param(Row(Bearer(aws.BEARER_TOKEN), 401), id="bearer-token-without-scheme"),
    pytest.param(
        Row(Bearer("Basic " + base64.b64encode(f"user:{aws.BEARER_TOKEN}".encode()).decode()), 401),
        id="basic-scheme",
    ),
    pytest.param(Row(Bearer(f"Basic {aws.BEARER_TOKEN}"), 401), id="other-scheme-with-valid-token"),
    pytest.param(Row(Bearer(f"bearer {aws.BEARER_TOKEN}"), 200), id="bearer-lower-case-scheme"),
    pytest.param(Row(Bearer(f"Bearer {OTHER_BEARER_TOKEN}"), 200, ROTATION), id="bearer-rotation-new-token"),
    pytest.param(Row(Bearer(f"Bearer {aws.BEARER_TOKEN}"), 200, ROTATION), id="bearer-rotation-old-token"),
    pytest.param(Row(Bearer(f"Bearer {OTHER_BEARER_TOKEN}"), 401), id="bearer-token-not-configured"),
    # Nothing presented
    pytest.param(Row(Bearer(None), 401), id="no-credentials-get"),
    pytest.param(Row(Bearer(None, POST), 401), id="no-credentials-post"),
]


@pytest.fixture
def set_inbound(moto_endpoint: str) -> Iterator[SetInbound]:
    """Replace the inbound secret in moto for one test; the default is restored afterwards."""
    changed = False

    def put(value: dict[str, Any]) -> None:
        nonlocal changed
        changed = True
        aws.set_inbound_secrets(moto_endpoint, value)

    try:
        yield put
    finally:
        if changed:
            aws.set_inbound_secrets(moto_endpoint, aws.inbound_secrets())


def assert_refused(response: dict[str, Any]) -> None:
    """A 401 with the fixed body in Talon.One's error shape and a WWW-Authenticate challenge."""
    assert response["statusCode"] == 401
    assert json.loads(response["body"]) == UNAUTHORIZED_BODY
    assert header(response, "Content-Type") == "application/json"
    challenge = header(response, "WWW-Authenticate")
    assert challenge is not None
    assert "Bearer" in challenge


@pytest.mark.parametrize("row", MATRIX)
def test_signature_matrix(
    row: Row, recorded_gateway: RecordingUpstream, set_inbound: SetInbound, invoke: Invoke
) -> None:
    # Given the inbound secret of the row, and a Talon.One that answers 200
    if row.inbound is not None:
        set_inbound(row.inbound)
    recorded_gateway.answer(200, ANSWER)
    event = row.request.build()

    # When the function is invoked with the row's credentials
    response = invoke(row.request.function, event)

    # Then the status is the row's
    assert response["statusCode"] == row.status, response["body"]
    if row.status == 200:
        # and the request reached Talon.One once, answered unchanged
        assert len(recorded_gateway.requests) == 1
        assert response["body"].encode() == ANSWER
    else:
        # and a refused request never reached Talon.One, and got the fixed 401
        assert recorded_gateway.requests == []
        assert_refused(response)


def test_a_configuration_without_credentials_is_refused_as_misconfigured(
    recorded_gateway: RecordingUpstream, set_inbound: SetInbound, invoke: Invoke
) -> None:
    # Given an inbound secret with no credential at all (the template's placeholder)
    set_inbound(NOTHING_CONFIGURED)

    # When a caller presents a token that was valid before
    response = invoke(GET, Bearer(f"Bearer {aws.BEARER_TOKEN}").build())

    # Then the operator sees a clear configuration error, not a lock-out that looks like the caller's fault
    assert response["statusCode"] == 500
    assert json.loads(response["body"])["message"] == "The gateway is misconfigured"
    assert recorded_gateway.requests == []


def test_base64_body_reaches_talon_one_decoded(recorded_gateway: RecordingUpstream, invoke: Invoke) -> None:
    # Given a webhook whose body API Gateway base64-encoded, signed over the decoded bytes
    event = Signed(base64_body=True).build()
    original = load_event(POST)["body"].encode()
    assert event["body"] != original.decode()

    # When it is tracked
    response = invoke(POST, event)

    # Then Talon.One receives the decoded bytes, exactly those that were signed
    assert response["statusCode"] == 200
    assert recorded_gateway.requests[0].body == original


def test_every_refusal_has_the_same_body(recorded_gateway: RecordingUpstream, invoke: Invoke) -> None:
    # Given one failed attempt for each reason: nothing presented, bad signature, bad token
    attempts: list[Signed | Bearer] = [
        Bearer(None),
        Signed(secret=OTHER_WEBHOOK_SECRET),
        Signed(age=SIX_MINUTES),
        Signed(GET),
        Bearer("Bearer wrong-token"),
        Bearer("Basic abc"),
    ]

    # When each is sent
    responses = [invoke(request.function, request.build()) for request in attempts]

    # Then all are the same 401, byte for byte, with the same challenge, and none reached Talon.One
    for response in responses:
        assert_refused(response)
    assert len({response["body"] for response in responses}) == 1
    assert len({header(response, "WWW-Authenticate") for response in responses}) == 1
    assert recorded_gateway.requests == []


def test_no_log_line_holds_a_presented_credential(
    recorded_gateway: RecordingUpstream,
    invoke: Invoke,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the functions' logs, captured from stdout (tests/support/log_tap.py)
    capsys.readouterr()
    wrong_token = "presented-token-9f8e7d6c5b4a"
    wrong_webhook = Signed(secret=OTHER_WEBHOOK_SECRET).build()
    wrong_signature = wrong_webhook["headers"]["webhook-signature"]

    # When a wrong bearer token, a wrong signature and a wrong token beside a right signature are sent
    responses = [
        invoke(GET, Bearer(f"Bearer {wrong_token}").build()),
        invoke(POST, wrong_webhook),
        invoke(POST, Signed(authorization=f"Bearer {wrong_token}").build()),
    ]
    logged = capsys.readouterr().out

    # Then each was refused and logged as such
    assert [r["statusCode"] for r in responses] == [401, 401, 401]
    lines = log_tap.records(logged)
    failures = [line for line in lines if line.get("message") == "inbound authentication failed"]
    assert len(failures) == 3
    # but no line holds the presented token or signature, nor a configured secret
    for secret in (wrong_token, wrong_signature, wrong_signature.removeprefix("v1,")):
        assert secret not in logged
    for configured in (aws.BEARER_TOKEN, aws.WEBHOOK_SECRET, aws.WEBHOOK_SECRET.removeprefix("whsec_")):
        assert configured not in logged
    assert recorded_gateway.requests == []


@pytest.mark.parametrize("name", ["Authorization", "webhook-signature"])
def test_a_repeated_credential_header_is_refused(
    name: str, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given a request carrying a credential header twice: a guess first, then the valid value
    event = load_event(POST)
    msg_id, timestamp = f"msg_{uuid.uuid4().hex}", str(int(time.time()))
    valid = {
        "Authorization": f"Bearer {aws.BEARER_TOKEN}",
        "webhook-signature": sign(aws.WEBHOOK_SECRET, msg_id, timestamp, event["body"].encode()),
    }[name]
    headers = {"webhook-id": msg_id, "webhook-timestamp": timestamp} if name != "Authorization" else {}
    headers[name] = valid
    event = with_headers(event, headers)
    event["multiValueHeaders"][name] = [
        "Bearer attacker-guess" if name == "Authorization" else WRONG_SIGNATURE,
        valid,
    ]

    # When it arrives
    response = invoke(POST, event)

    # Then it is refused: only one of the values could have been checked
    assert response["statusCode"] == 401
    assert recorded_gateway.requests == []
