"""The error contract: how every kind of failure reaches the caller of the gateway.

Talon.One is a recording server on 127.0.0.1 (or a closed port, or a server too slow to
answer); Secrets Manager is moto over HTTP (or a closed port). Every error body has Talon.One's
own shape ``{"message", "errors": [{"title", "details", "source"}], "StatusCode"}``, except
Talon.One's own 4xx answers, which pass through byte for byte. Every error response carries
the API Gateway request id as ``X-Correlation-Id``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from local_gateway import aws_resources
from talon_gateway.upstream import policy as upstream
from tests.conftest import Invoke, body_json, header, load_event
from tests.support import aws
from tests.support.upstream import Answer, RecordingUpstream

# Short per-attempt read timeout for the timeout tests (gateway_env sets 2 s).
SHORT_READ_TIMEOUT = 0.3
# How long the slow Talon.One waits before answering: well past SHORT_READ_TIMEOUT.
SLOW_ANSWER_DELAY = 3.0
# Recognisable text that must never travel from Talon.One's (or a secret's) content to a caller.
MARKER = "MARKER-7f3a91-must-not-leak"

SHORT_BODY = b'{"ok":true}'


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------


def fresh_event(name: str, *, idempotency_key: str | None = None) -> dict[str, Any]:
    """An events/ file with a request id of its own, so the correlation id cannot match by chance."""
    event = load_event(name)
    event["requestContext"]["requestId"] = f"err-{uuid.uuid4()}"
    if idempotency_key is not None:
        event["headers"]["Idempotency-Key"] = idempotency_key
        event["multiValueHeaders"]["Idempotency-Key"] = [idempotency_key]
    return event


def closed_port() -> int:
    """A loopback port that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def talon_error_body(status: int, message: str) -> bytes:
    """An error answer as Talon.One writes it, with a non-ASCII character to check exact bytes."""
    body = {
        "message": message,
        "errors": [{"title": "Problème", "details": message, "source": {"pointer": "/x"}}],
        "StatusCode": status,
    }
    return json.dumps(body, ensure_ascii=False).encode()


def assert_gateway_error(
    response: dict[str, Any],
    event: dict[str, Any],
    status: int,
    *,
    retry_after: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """The response is the gateway's own error, in Talon.One's shape, with the correlation id."""
    assert response["statusCode"] == status, response["body"]
    assert header(response, "Content-Type") == "application/json"
    body: dict[str, Any] = body_json(response)
    assert set(body) == {"message", "errors", "StatusCode"}
    assert body["StatusCode"] == status
    assert isinstance(body["message"], str)
    assert body["message"]
    assert body["errors"]
    for error in body["errors"]:
        assert set(error) == {"title", "details", "source"}
        assert isinstance(error["source"], dict)
    if message is not None:
        assert body["message"] == message
    assert header(response, "Retry-After") == retry_after
    assert header(response, "X-Correlation-Id") == event["requestContext"]["requestId"]
    assert "Traceback" not in response["body"]
    return body


@dataclass(frozen=True)
class Logs:
    text: str  # everything written to stdout and stderr
    records: list[dict[str, Any]]  # the Powertools JSON log lines (metrics lines excluded)

    def with_message(self, message: str) -> list[dict[str, Any]]:
        return [record for record in self.records if record.get("message") == message]


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> Callable[[], Logs]:
    """What the functions log, read from stdout like CloudWatch would (the session's log tap,
    tests/support/log_tap.py, points the Powertools handler at the current sys.stdout)."""

    def read() -> Logs:
        captured = capsys.readouterr()
        records = []
        for line in captured.out.splitlines():
            try:
                parsed = json.loads(line)
            except ValueError:
                continue
            if isinstance(parsed, dict) and "level" in parsed:
                records.append(parsed)
        return Logs(captured.out + captured.err, records)

    return read


class SlowTalon:
    """A Talon.One that accepts every request and answers only after SLOW_ANSWER_DELAY."""

    def __init__(self) -> None:
        self.requests = 0
        self.release = threading.Event()
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with lock:
                    outer.requests += 1
                outer.release.wait(SLOW_ANSWER_DELAY)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(SHORT_BODY)))
                    self.end_headers()
                    self.wfile.write(SHORT_BODY)
                except OSError:  # the gateway gave up and closed the connection
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's names

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a connection reset by the impatient gateway is expected here

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> SlowTalon:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def slow_gateway(gateway_env: Callable[[str], None], monkeypatch: pytest.MonkeyPatch) -> Iterator[SlowTalon]:
    with SlowTalon() as server:
        gateway_env(server.url)
        monkeypatch.setenv("TALON_READ_TIMEOUT", str(SHORT_READ_TIMEOUT))
        yield server


@pytest.fixture
def talon_secret(moto_endpoint: str) -> Iterator[Callable[[str], None]]:
    """Store any text as the Talon.One secret; the test deployment's value is restored afterwards."""
    client = aws_resources.client("secretsmanager", moto_endpoint, aws.REGION)

    def put(raw: str) -> None:
        client.put_secret_value(SecretId=aws.TALON_SECRET_ID, SecretString=raw)

    try:
        yield put
    finally:
        aws.set_talon_credentials(moto_endpoint, aws.talon_credentials())


@pytest.fixture
def unreachable_secrets_manager() -> str:
    """An AWS endpoint on a closed loopback port: every connection is refused."""
    return f"http://127.0.0.1:{closed_port()}"


# ----------------------------------------------------------------------------------------------
# 1. Talon.One's own 4xx: passed through, retried only for 409 and 429
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "status"),
    [
        pytest.param("get_reserved_coupons", 404, id="GET-404"),
        pytest.param("track_event", 400, id="POST-400"),
        pytest.param("update_customer_session", 422, id="PUT-422"),
        pytest.param("get_reserved_coupons", 400, id="GET-400"),
    ],
)
def test_talon_one_4xx_passes_through_byte_for_byte_without_retry(
    function: str, status: int, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given Talon.One refuses the request with its own error body and content type
    talon_body = talon_error_body(status, f"Talon.One says no ({status})")
    recorded_gateway.answer(status, talon_body, "application/json; charset=utf-8")
    event = fresh_event(function)

    # When the function is invoked
    response = invoke(function, event)

    # Then the caller gets Talon.One's status, body (exact bytes) and content type
    assert response["statusCode"] == status
    assert response["body"].encode() == talon_body
    assert header(response, "Content-Type") == "application/json; charset=utf-8"
    # and the request was not repeated, even for a method that may be repeated
    assert len(recorded_gateway.requests) == 1
    # and the correlation id is there
    assert header(response, "X-Correlation-Id") == event["requestContext"]["requestId"]


@pytest.mark.parametrize("status", [409, 429])
def test_conflict_and_throttling_are_retried_then_passed_through(
    status: int, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    from talon_gateway.upstream import policy as upstream

    # Given Talon.One refuses a POST without an idempotency key on every attempt
    talon_body = talon_error_body(status, "Busy")
    for _ in range(upstream.MAX_ATTEMPTS + 2):
        recorded_gateway.answer(status, talon_body)
    event = fresh_event("track_event")

    # When the event is tracked
    response = invoke("track_event", event)

    # Then the gateway tried as often as its policy allows (nothing was processed by Talon.One)
    assert len(recorded_gateway.requests) == upstream.MAX_ATTEMPTS
    # and then passed Talon.One's last answer through
    assert response["statusCode"] == status
    assert response["body"].encode() == talon_body
    assert header(response, "X-Correlation-Id") == event["requestContext"]["requestId"]


@pytest.mark.parametrize("status", [409, 429])
def test_conflict_or_throttling_once_then_success_is_a_success(
    status: int, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given Talon.One refuses once, then accepts
    recorded_gateway.answer(status, talon_error_body(status, "Busy"))
    recorded_gateway.answer(200, SHORT_BODY)

    # When the event is tracked
    response = invoke("track_event", fresh_event("track_event"))

    # Then the caller sees only the success, after two identical requests
    assert response["statusCode"] == 200
    assert response["body"].encode() == SHORT_BODY
    first, second = recorded_gateway.requests
    assert (first.method, first.target, first.body) == (second.method, second.target, second.body)


# ----------------------------------------------------------------------------------------------
# 2. Talon.One refusing the gateway's credentials
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("function", ["get_reserved_coupons", "track_event"])
@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_refetched_once_then_a_502(
    status: int, function: str, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given Talon.One refuses the gateway's credentials every time, with a revealing body
    refusal = json.dumps({"message": f"invalid key {MARKER}", "StatusCode": status}).encode()
    for _ in range(4):
        recorded_gateway.answer(status, refusal)
    event = fresh_event(function)

    # When the function is invoked
    response = invoke(function, event)

    # Then the caller gets the gateway's fixed 502, never Talon.One's body
    assert_gateway_error(response, event, 502, message="The gateway's credentials for Talon.One were refused")
    assert MARKER not in response["body"]
    # and the gateway re-read its credentials and tried exactly once more
    assert len(recorded_gateway.requests) == 2
    first, second = recorded_gateway.requests
    assert first.headers["authorization"] == second.headers["authorization"] == f"ApiKey-v1 {aws.API_KEY}"


def test_a_key_rotated_since_it_was_cached_is_picked_up_after_a_401(
    recorded_gateway: RecordingUpstream,
    moto_endpoint: str,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a warm function that cached the current key (for longer than this test)
    monkeypatch.setenv("POWERTOOLS_PARAMETERS_MAX_AGE", "300")
    assert invoke("get_reserved_coupons", fresh_event("get_reserved_coupons"))["statusCode"] == 200
    # and the key was then rotated in Secrets Manager, so Talon.One refuses the cached one
    rotated = "rotated-api-key-0002"
    recorded_gateway.answer(401, b'{"message":"unauthorized"}')
    recorded_gateway.answer(200, SHORT_BODY)
    aws.set_talon_credentials(moto_endpoint, aws.talon_credentials(apiKey=rotated))
    try:
        # When the next request arrives
        response = invoke("get_reserved_coupons", fresh_event("get_reserved_coupons"))
    finally:
        aws.set_talon_credentials(moto_endpoint, aws.talon_credentials())

    # Then it succeeds: the old key was refused, the re-read new key accepted
    assert response["statusCode"] == 200
    assert response["body"].encode() == SHORT_BODY
    _, refused, accepted = recorded_gateway.requests
    assert refused.headers["authorization"] == f"ApiKey-v1 {aws.API_KEY}"
    assert accepted.headers["authorization"] == f"ApiKey-v1 {rotated}"


# ----------------------------------------------------------------------------------------------
# 3. Talon.One failing (5xx)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    function: str
    status: int
    repeated: bool  # whether the retry policy repeats the request (else exactly one reaches Talon.One)
    talon_retry_after: str | None = None  # Retry-After sent by Talon.One
    retry_after: str = "1"  # Retry-After the caller must get


FAILURES = [
    # A 500 is never repeated, whatever the method.
    pytest.param(Failure("get_reserved_coupons", 500, repeated=False), id="GET-500"),
    # A POST without an idempotency key may have been processed: never repeated.
    pytest.param(Failure("track_event", 502, repeated=False), id="POST-502"),
    pytest.param(Failure("track_event", 503, repeated=False), id="POST-503"),
    pytest.param(Failure("track_event", 504, repeated=False), id="POST-504"),
    pytest.param(
        Failure("track_event", 503, repeated=False, talon_retry_after="7", retry_after="7"), id="POST-503-RA"
    ),
    # A GET is repeated until the attempts run out.
    pytest.param(Failure("get_reserved_coupons", 503, repeated=True), id="GET-503"),
]


@pytest.mark.parametrize("failure", FAILURES)
def test_talon_one_5xx_becomes_502_with_retry_after(
    failure: Failure, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    from talon_gateway.upstream import policy as upstream

    # Given Talon.One fails on every attempt, with internals in its body
    extra = {"Retry_After": failure.talon_retry_after} if failure.talon_retry_after else {}
    for _ in range(upstream.MAX_ATTEMPTS + 2):
        recorded_gateway.answer(failure.status, f"<h1>{MARKER}</h1>".encode(), "text/html", **extra)
    event = fresh_event(failure.function)

    # When the function is invoked
    response = invoke(failure.function, event)

    # Then the caller gets the gateway's 502 with a Retry-After, and none of Talon.One's body
    assert_gateway_error(
        response, event, 502, retry_after=failure.retry_after, message="Talon.One is unavailable"
    )
    assert MARKER not in response["body"]
    # and Talon.One saw exactly the requests the retry policy allows
    assert len(recorded_gateway.requests) == (upstream.MAX_ATTEMPTS if failure.repeated else 1)


def test_a_get_is_retried_after_a_503_and_succeeds(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given Talon.One is unavailable once
    recorded_gateway.answer(503, b'{"message":"unavailable"}')
    recorded_gateway.answer(200, SHORT_BODY)

    # When coupons are read
    response = invoke("get_reserved_coupons", fresh_event("get_reserved_coupons"))

    # Then the second attempt's answer is the caller's
    assert response["statusCode"] == 200
    assert response["body"].encode() == SHORT_BODY
    assert len(recorded_gateway.requests) == 2


def test_a_post_with_an_idempotency_key_is_retried_after_a_503(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given Talon.One is unavailable once
    recorded_gateway.answer(503, b'{"message":"unavailable"}')
    recorded_gateway.answer(200, SHORT_BODY)
    key = f"retry-{uuid.uuid4()}"

    # When an event is tracked with an idempotency key (repeating it is harmless)
    response = invoke("track_event", fresh_event("track_event", idempotency_key=key))

    # Then it was sent again, with the same key, and succeeded
    assert response["statusCode"] == 200
    assert response["body"].encode() == SHORT_BODY
    assert [sent.headers["idempotency-key"] for sent in recorded_gateway.requests] == [key, key]


# ----------------------------------------------------------------------------------------------
# 4. Network failures
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("function", ["get_reserved_coupons", "track_event"])
def test_talon_one_unreachable_is_a_502_with_retry_after(
    function: str, gateway_env: Callable[[str], None], invoke: Invoke
) -> None:
    # Given nothing listens at Talon.One's address
    gateway_env(f"http://127.0.0.1:{closed_port()}")
    event = fresh_event(function)

    # When the function is invoked
    response = invoke(function, event)

    # Then the caller gets a 502 it may retry later
    assert_gateway_error(response, event, 502, retry_after="1", message="Talon.One is unavailable")


@pytest.mark.parametrize(
    ("function", "repeated"),
    [
        pytest.param("track_event", False, id="POST-not-repeated"),
        pytest.param("get_reserved_coupons", True, id="GET-repeated"),
    ],
)
def test_talon_one_too_slow_is_a_504_with_retry_after(
    function: str, repeated: bool, slow_gateway: SlowTalon, invoke: Invoke
) -> None:
    from talon_gateway.upstream import policy as upstream

    # Given Talon.One takes longer than the read timeout to answer
    event = fresh_event(function)

    # When the function is invoked
    response = invoke(function, event)

    # Then the caller gets a 504 it may retry later
    assert_gateway_error(response, event, 504, retry_after="1", message="Talon.One did not answer in time")
    # and a request that may have been processed was not repeated (a GET was); the server's
    # thread may count the last attempt after the gateway gave up on it
    expected = upstream.MAX_ATTEMPTS if repeated else 1
    deadline = time.monotonic() + 5
    while slow_gateway.requests < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slow_gateway.requests == expected


# ----------------------------------------------------------------------------------------------
# 5. A 2xx whose body is not JSON
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(f"<html>{MARKER}</html>".encode(), "text/html", id="html"),
        pytest.param(f'{{"data": "{MARKER}"'.encode(), "application/json", id="truncated-json"),
        pytest.param(b"\xff\xfe" + MARKER.encode(), "application/json", id="not-utf8"),
    ],
)
def test_a_2xx_with_a_malformed_body_is_a_502_logged_without_its_content(
    body: bytes,
    content_type: str,
    recorded_gateway: RecordingUpstream,
    invoke: Invoke,
    logs: Callable[[], Logs],
) -> None:
    # Given Talon.One answers 200 with a body that is not JSON, every time
    recorded_gateway.default = Answer(200, body, {"Content-Type": content_type})
    event = fresh_event("get_reserved_coupons")

    # When coupons are read
    response = invoke("get_reserved_coupons", event)

    # Then the caller gets a 502, without the body, after the retries a GET is allowed
    assert_gateway_error(
        response, event, 502, retry_after="1", message="Talon.One answered with a malformed body"
    )
    assert MARKER not in response["body"]
    assert len(recorded_gateway.requests) == upstream.MAX_ATTEMPTS
    # and the log says which status and how long, but never what the body held
    captured = logs()
    records = captured.with_message("malformed upstream body")
    assert len(records) == upstream.MAX_ATTEMPTS
    assert {(record["status"], record["length"]) for record in records} == {(200, len(body))}
    assert MARKER not in captured.text


# ----------------------------------------------------------------------------------------------
# 6. Anything unexpected
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("talon_gateway.upstream.policy.call", id="while-forwarding"),
        pytest.param("talon_gateway.inbound.guard.authenticate", id="while-guarding"),
    ],
)
def test_an_unexpected_failure_is_a_bare_500(
    target: str,
    recorded_gateway: RecordingUpstream,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    logs: Callable[[], Logs],
) -> None:
    # Given a bug deep inside the gateway
    def broken(*args: object, **kwargs: object) -> Any:
        raise RuntimeError("internal detail xyz")

    monkeypatch.setattr(target, broken)
    event = fresh_event("track_event")

    # When an event is tracked
    response = invoke("track_event", event)

    # Then the caller gets a 500 that reveals nothing of it
    assert_gateway_error(response, event, 500, message="Internal error")
    assert "internal detail xyz" not in response["body"]
    assert "RuntimeError" not in response["body"]
    assert recorded_gateway.requests == []
    # while the operators' log has the type and where it was raised, but not the message (an
    # exception's message may hold a customer's data)
    text = logs().text
    assert "RuntimeError" in text
    assert "broken" in text
    assert "internal detail xyz" not in text


# ----------------------------------------------------------------------------------------------
# 7. Secrets Manager unreachable
# ----------------------------------------------------------------------------------------------


def test_secrets_manager_unreachable_on_a_cold_start_is_a_503(
    recorded_gateway: RecordingUpstream,
    unreachable_secrets_manager: str,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a cold execution environment that cannot reach Secrets Manager
    monkeypatch.setenv("AWS_ENDPOINT_URL", unreachable_secrets_manager)
    event = fresh_event("track_event")

    # When an event is tracked
    response = invoke("track_event", event)

    # Then the caller gets a 503 it may retry later, and Talon.One was not called
    assert_gateway_error(
        response, event, 503, retry_after="1", message="The gateway cannot read its credentials"
    )
    assert recorded_gateway.requests == []


def test_secrets_manager_unreachable_when_warm_uses_the_values_read_before(
    recorded_gateway: RecordingUpstream,
    unreachable_secrets_manager: str,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    logs: Callable[[], Logs],
) -> None:
    from talon_gateway import secrets

    # Given secrets that expire from the cache at once, read successfully by a first request
    monkeypatch.setenv("POWERTOOLS_PARAMETERS_MAX_AGE", "0")
    assert invoke("track_event", fresh_event("track_event"))["statusCode"] == 200
    # and Secrets Manager then becoming unreachable for the same (warm) provider
    provider = secrets._provider()
    dead = aws_resources.client("secretsmanager", unreachable_secrets_manager, aws.REGION)
    monkeypatch.setattr(provider, "client", dead)

    # When the next request arrives
    response = invoke("track_event", fresh_event("track_event"))

    # Then it is served with the values read before, signed with the same key
    assert response["statusCode"] == 200
    assert len(recorded_gateway.requests) == 2
    first, second = recorded_gateway.requests
    assert first.headers["authorization"] == second.headers["authorization"]
    assert first.headers["content-signature"] == second.headers["content-signature"]
    # because Secrets Manager was really asked, and failed, for both secrets
    fallbacks = logs().with_message("secrets manager failed, using the last value read")
    assert {record["secret_id"] for record in fallbacks} == {aws.TALON_SECRET_ID, aws.INBOUND_SECRET_ID}


# ----------------------------------------------------------------------------------------------
# 8. A malformed Talon.One secret
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(f"apiKey={MARKER}", id="not-json"),
        pytest.param(json.dumps([MARKER]), id="json-not-an-object"),
        pytest.param(json.dumps({"applicationId": MARKER}), id="no-api-key-nor-application-key"),
        pytest.param(json.dumps({"note": MARKER}), id="unknown-field-only"),
        pytest.param(
            json.dumps({"apiKey": MARKER, "applicationId": "42", "applicationKey": f"zz{MARKER}"}),
            id="application-key-not-hex",
        ),
    ],
)
def test_a_malformed_talon_secret_is_a_500_that_never_shows_the_secret(
    raw: str,
    recorded_gateway: RecordingUpstream,
    talon_secret: Callable[[str], None],
    invoke: Invoke,
    logs: Callable[[], Logs],
) -> None:
    # Given the Talon.One secret holds something the gateway cannot use
    talon_secret(raw)
    event = fresh_event("track_event")

    # When an event is tracked
    response = invoke("track_event", event)

    # Then the caller learns the gateway is misconfigured, and Talon.One is not called
    assert_gateway_error(response, event, 500, message="The gateway is misconfigured")
    assert recorded_gateway.requests == []
    # and the secret's content is neither in the body nor in any log line
    assert MARKER not in response["body"]
    captured = logs()
    assert captured.with_message("gateway misconfigured")
    assert MARKER not in captured.text


# ----------------------------------------------------------------------------------------------
# 9. The correlation id on errors raised before Talon.One is involved
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status"),
    [
        pytest.param("track_event.bad-json", 400, id="invalid-json"),
        pytest.param("track_event.form-encoded", 415, id="wrong-media-type"),
    ],
)
def test_refusals_before_forwarding_carry_the_correlation_id(
    name: str, status: int, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given an invalid request
    event = load_event(f"invalid/{name}")
    event["requestContext"]["requestId"] = f"err-{uuid.uuid4()}"

    # When it arrives
    response = invoke("track_event", event)

    # Then the refusal is in the error shape with the request's correlation id
    assert_gateway_error(response, event, status)
    assert recorded_gateway.requests == []


def test_an_unauthenticated_caller_gets_the_correlation_id(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given a request without a valid bearer token
    event = fresh_event("track_event")
    event["headers"]["Authorization"] = "Bearer not-the-token"
    event["multiValueHeaders"]["Authorization"] = ["Bearer not-the-token"]

    # When it arrives
    response = invoke("track_event", event)

    # Then it is refused in the error shape, with the correlation id
    assert_gateway_error(response, event, 401, message="Authentication required")
    assert recorded_gateway.requests == []
