"""The fault matrix: every upstream failure, crossed with a GET, a PUT and a POST without key.

Talon.One is the real sandbox (``sandbox.Sandbox``) on 127.0.0.1 with the test deployment's
credentials, and its fault injection provides the failures; Secrets Manager is moto over HTTP.
The handlers run in-process with a Lambda context of ``CONTEXT_TIMEOUT_S``, so the gateway's
deadline (``upstream.Deadline``: min(29 s, remaining) - margin) is ``DEADLINE`` seconds, and
with short per-attempt timeouts, so retries and their limits show within a few seconds.

What the policy of ``talon_gateway.upstream.policy`` implies for each row (GET/PUT are repeatable; a
POST without Idempotency-Key is not):

- latency past the read timeout: GET/PUT retry until the deadline, then 504; the POST is
  sent once (it may have been processed), then 504;
- connection refused: nothing was sent, so every method retries up to ``MAX_ATTEMPTS``, then 502;
- connection dropped mid-response: GET/PUT retry once and succeed; the POST is not repeated: 502;
- 409 twice, then success: every method retries (nothing was processed): 200 after 3 attempts;
- 429 with Retry-After 1: every method waits the second, then 200 after 2 attempts;
- 500: never retried, 502;
- 502, 503, 504: GET/PUT retry up to ``MAX_ATTEMPTS``, then 502; the POST is sent once: 502;
- malformed body (once): GET/PUT retry and succeed; the POST is not repeated: 502;
- 401 after the API key was rotated: the credentials are read again, once: 200 after 2 attempts;
- Secrets Manager down at a cold start: 503 before anything is sent to Talon.One.

Every non-2xx answer here is one a later retry could fix, so each carries ``Retry-After``. The
POST's side effect (the event the sandbox records) happens at most once. Run with ``-s`` to see
the measured matrix as a Markdown table when the module ends.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from local_gateway.functions import LambdaContext, load_handler
from sandbox import FaultAction, Sandbox, SandboxCredentials
from talon_gateway.upstream import policy as upstream
from talon_gateway.upstream import transport
from tests.conftest import SPECS, header, load_event
from tests.support import aws

# The Lambda timeout the handlers are invoked with, and the deadline it gives the gateway.
CONTEXT_TIMEOUT_S = 4.0
DEADLINE = min(upstream.API_GATEWAY_TIMEOUT, CONTEXT_TIMEOUT_S) - upstream.DEADLINE_MARGIN
# Per-attempt timeouts toward Talon.One (gateway_env sets 1 s and 2 s).
CONNECT_TIMEOUT = "0.5"
READ_TIMEOUT = "1"
# What a measured duration may exceed the deadline by: the handler's own work around the call.
SLACK = 1.5
# A count that no invocation can exhaust: the fault is persistent.
PERSISTENT = 100
LATENCY_MS = 1500
# The key Talon.One is rotated to in the rotation row (never logged: it is not a real secret).
ROTATED_API_KEY = "test-api-key-0002-rotated"

TRACK_EVENT_TYPE = "viewed_promo"  # events/track_event.json
TRACK_EVENT_SESSION = "session-1"


@dataclass(frozen=True, slots=True)
class Operation:
    """One function of the matrix: its folder under functions/, its operationId and its event."""

    function: str
    operation_id: str
    method: str

    @property
    def is_post(self) -> bool:
        return self.method == "POST"


OPERATIONS: tuple[Operation, ...] = (
    Operation("get_reserved_coupons", "getReservedCoupons", "GET"),
    Operation("update_customer_session_v2", "updateCustomerSessionV2", "PUT"),
    Operation("track_event", "trackEvent", "POST"),
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the gateway must answer, and how many requests may reach Talon.One on the way."""

    status: int
    attempts: int  # requests Talon.One received during the invocation (at least)
    # Another acceptable status, where timing decides between two right answers
    also: int | None = None
    attempts_max: int | None = None  # at most (None: exactly ``attempts``)
    sends: int | None = None  # exchanges the gateway tried (None: the same as the attempts)
    events: int = 0  # POST only: events Talon.One recorded for the session
    min_duration: float = 0.0

    def allows_attempts(self, attempts: int) -> bool:
        return self.attempts <= attempts <= (self.attempts_max or self.attempts)

    def allows_sends(self, sends: int, attempts: int) -> bool:
        return sends == attempts if self.sends is None else sends == self.sends


Kind = Literal["sandbox", "refused", "rotation", "secrets_down"]


@dataclass(frozen=True, slots=True)
class Fault:
    """One row: how to break things, and the outcome for GET/PUT and for the POST without key."""

    name: str
    kind: Kind
    repeatable: Outcome  # GET and PUT
    post: Outcome  # POST without Idempotency-Key
    action: FaultAction | None = None
    status: int | None = None
    count: int = 1
    retry_after: int | None = None
    latency_ms: int | None = None

    def expected(self, operation: Operation) -> Outcome:
        return self.post if operation.is_post else self.repeatable


FAULTS: tuple[Fault, ...] = (
    Fault(
        "latency 1500 ms > read timeout",
        "sandbox",
        action="latency",
        latency_ms=LATENCY_MS,
        count=PERSISTENT,
        # Retried until too little time is left; four attempts of 1 s cannot fit in 3.5 s. A retry
        # that arrives while Talon.One still processes the timed-out attempt is refused with
        # Talon.One's 409 (parallel writes to one session), so the last answer is 504 or 409.
        repeatable=Outcome(504, attempts=2, attempts_max=upstream.MAX_ATTEMPTS, min_duration=1.0, also=409),
        # Sent once; Talon.One still processes it after the gateway gave up.
        post=Outcome(504, attempts=1, events=1, min_duration=1.0),
    ),
    Fault(
        "connection refused",
        "refused",
        repeatable=Outcome(502, attempts=0, sends=upstream.MAX_ATTEMPTS),
        post=Outcome(502, attempts=0, sends=upstream.MAX_ATTEMPTS),
    ),
    Fault(
        "connection dropped mid-response",
        "sandbox",
        action="drop_after_processing",
        repeatable=Outcome(200, attempts=2),
        post=Outcome(502, attempts=1, events=1),
    ),
    Fault(
        "409 twice, then success",
        "sandbox",
        action="status",
        status=409,
        count=2,
        repeatable=Outcome(200, attempts=3),
        post=Outcome(200, attempts=3, events=1),
    ),
    Fault(
        "429 with Retry-After: 1",
        "sandbox",
        action="status",
        status=429,
        retry_after=1,
        repeatable=Outcome(200, attempts=2, min_duration=1.0),
        post=Outcome(200, attempts=2, events=1, min_duration=1.0),
    ),
    Fault(
        "500 (persistent)",
        "sandbox",
        action="status",
        status=500,
        count=PERSISTENT,
        repeatable=Outcome(502, attempts=1),
        post=Outcome(502, attempts=1),
    ),
    *(
        Fault(
            f"{status} (persistent)",
            "sandbox",
            action="status",
            status=status,
            count=PERSISTENT,
            repeatable=Outcome(502, attempts=upstream.MAX_ATTEMPTS),
            post=Outcome(502, attempts=1),
        )
        for status in (502, 503, 504)
    ),
    Fault(
        "malformed body",
        "sandbox",
        action="malformed",
        repeatable=Outcome(200, attempts=2),
        post=Outcome(502, attempts=1, events=1),
    ),
    Fault(
        "401 after key rotation",
        "rotation",
        repeatable=Outcome(200, attempts=2),
        post=Outcome(200, attempts=2, events=1),
    ),
    Fault(
        "Secrets Manager down (cold start)",
        "secrets_down",
        repeatable=Outcome(503, attempts=0),
        post=Outcome(503, attempts=0),
    ),
)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One cell of the matrix, as measured."""

    fault: str
    operation: Operation
    status: int
    retry_after: str | None
    attempts: int  # requests Talon.One received
    sends: int  # exchanges the gateway tried (transport.send calls)
    processed: int  # requests Talon.One processed (side effects committed)
    events: int | None  # POST only: events recorded for the session
    duration: float

    def row(self) -> str:
        cells = [
            self.fault,
            f"{self.operation.method} {self.operation.operation_id}",
            str(self.status),
            self.retry_after or "-",
            str(self.attempts),
            str(self.sends),
            str(self.processed),
            "-" if self.events is None else str(self.events),
            f"{self.duration:.2f}",
            f"{DEADLINE:.1f}",
        ]
        return "| " + " | ".join(cells) + " |"


TABLE_HEADER = (
    "| fault | operation | status | Retry-After | attempts (Talon.One received) | gateway sends "
    "| processed | POST events | duration (s) | deadline (s) |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)


# ----------------------------------------------------------------------------------------------
# Helpers and fixtures
# ----------------------------------------------------------------------------------------------


def closed_port() -> int:
    """A loopback port that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def invoke(function: str, event: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Call a function's handler as Lambda would, with a short timeout; return its answer and
    the time it took (the context starts with the clock, as the deadline does)."""
    spec = SPECS[function]
    handler = load_handler(spec)
    started = time.monotonic()
    context = LambdaContext(function_name=spec.logical_id, timeout_s=CONTEXT_TIMEOUT_S)
    response = handler(event, context)
    return response, time.monotonic() - started


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def recorded_events(talon: Sandbox) -> int:
    """The events Talon.One recorded for the POST's session (events/track_event.json)."""
    return sum(
        1
        for event in talon.state.events
        if event.get("type") == TRACK_EVENT_TYPE and event.get("sessionId") == TRACK_EVENT_SESSION
    )


@pytest.fixture(scope="module")
def talon() -> Iterator[Sandbox]:
    """The Talon.One sandbox, knowing the test deployment's credentials."""
    credentials = SandboxCredentials(
        api_keys=[aws.API_KEY], application_id=aws.APPLICATION_ID, application_key_hex=aws.APPLICATION_KEY
    )
    with Sandbox(credentials=credentials, host="127.0.0.1", port=0) as sandbox:
        yield sandbox


@pytest.fixture
def fresh_talon(talon: Sandbox) -> Sandbox:
    """The sandbox as seeded: no faults, the deployment's key, no state, log or counters."""
    talon.clear_faults()
    talon.rotate_api_key(aws.API_KEY)
    talon.reset()
    return talon


@pytest.fixture(scope="module")
def matrix() -> Iterator[list[Measurement]]:
    """Every measured cell; printed as a Markdown table when the module ends (visible with -s)."""
    measured: list[Measurement] = []
    yield measured
    fault_order = {fault.name: index for index, fault in enumerate(FAULTS)}
    operation_order = {operation: index for index, operation in enumerate(OPERATIONS)}
    measured.sort(key=lambda m: (fault_order[m.fault], operation_order[m.operation]))
    print(f"\n\nFault matrix (deadline {DEADLINE:.1f} s, read timeout {READ_TIMEOUT} s, ", end="")
    print(f"connect timeout {CONNECT_TIMEOUT} s, MAX_ATTEMPTS {upstream.MAX_ATTEMPTS})\n")
    print(TABLE_HEADER)
    for measurement in measured:
        print(measurement.row())


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the gateway's exchanges with Talon.One (those that never reached it included)."""
    calls: list[int] = []
    real_send = transport.send

    def counting_send(request: Any, **timeouts: float) -> transport.UpstreamResponse:
        calls.append(1)
        return real_send(request, **timeouts)

    monkeypatch.setattr(transport, "send", counting_send)
    return calls


@pytest.fixture
def restore_rotated_key(moto_endpoint: str, talon: Sandbox) -> Iterator[None]:
    """Whatever the rotation row does, the deployment's key is back in both places afterwards."""
    yield
    talon.rotate_api_key(aws.API_KEY)
    aws.set_talon_credentials(moto_endpoint, aws.talon_credentials())


# ----------------------------------------------------------------------------------------------
# The matrix
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: o.method)
@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_fault_matrix(
    fault: Fault,
    operation: Operation,
    fresh_talon: Sandbox,
    moto_endpoint: str,
    gateway_env: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
    sends: list[int],
    matrix: list[Measurement],
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    talon = fresh_talon
    expected = fault.expected(operation)
    event = load_event(operation.function)
    assert "Idempotency-Key" not in (event.get("headers") or {})

    # Given: the gateway pointed at the sandbox (or at a closed port), with short timeouts
    gateway_env(f"http://127.0.0.1:{closed_port()}" if fault.kind == "refused" else talon.url)
    monkeypatch.setenv("TALON_CONNECT_TIMEOUT", CONNECT_TIMEOUT)
    monkeypatch.setenv("TALON_READ_TIMEOUT", READ_TIMEOUT)
    # And: the fault
    if fault.kind == "sandbox":
        assert fault.action is not None
        talon.add_fault(
            operation.operation_id,
            fault.action,
            status=fault.status,
            count=fault.count,
            retry_after=fault.retry_after,
            latency_ms=fault.latency_ms,
        )
    elif fault.kind == "secrets_down":
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    elif fault.kind == "rotation":
        request.getfixturevalue("restore_rotated_key")
        # A first, warm request caches the deployment's current key...
        warm, _ = invoke(operation.function, load_event(operation.function))
        assert warm["statusCode"] == 200, warm["body"]
        # ...then the key is rotated at Talon.One and in Secrets Manager
        talon.rotate_api_key(ROTATED_API_KEY)
        aws.set_talon_credentials(moto_endpoint, aws.talon_credentials(apiKey=ROTATED_API_KEY))
        talon.reset()
        sends.clear()

    # When: the function is invoked
    response, duration = invoke(operation.function, event)
    if fault.latency_ms:
        # Requests still sleeping in the sandbox finish later (or were refused with 409 while an
        # earlier one held the session): let the last of them end before counting.
        time.sleep(fault.latency_ms / 1000 + 0.3)
    counts = talon.counts(operation.operation_id)
    measured = Measurement(
        fault=fault.name,
        operation=operation,
        status=response["statusCode"],
        retry_after=header(response, "Retry-After"),
        attempts=counts["received"],
        sends=len(sends),
        processed=counts["processed"],
        events=recorded_events(talon) if operation.is_post else None,
        duration=duration,
    )
    matrix.append(measured)
    capsys.readouterr()  # the functions' log lines: not part of the matrix

    # Then: the answer the policy implies
    assert measured.status in (expected.status, expected.also), response["body"]
    # And: a non-2xx answer that a later retry could fix says when to retry
    if not 200 <= measured.status < 300:
        assert measured.retry_after is not None
        assert measured.retry_after.isdigit()
        assert int(measured.retry_after) >= 1
    # And: Talon.One saw as many attempts as the policy allows, no more
    assert expected.allows_attempts(measured.attempts), measured
    assert expected.allows_sends(measured.sends, measured.attempts), measured
    # And: the POST's side effect happened at most once, exactly as often as expected
    if operation.is_post:
        assert measured.events == expected.events, measured
        assert measured.events is not None
        assert measured.events <= 1
        assert measured.processed <= 1
    # And: it ended within the deadline (plus the handler's own work), and waited when told to
    assert measured.duration < DEADLINE + SLACK, measured
    assert measured.duration >= expected.min_duration, measured
