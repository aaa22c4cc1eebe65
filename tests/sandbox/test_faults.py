"""Fault injection: every action, consumption order, and the received/processed counters."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable

import httpx
import pytest

from sandbox import Sandbox

from .conftest import AUTH, check_response, make_client

Uid = Callable[[str], str]
EVENT_PATH = "/v1/events"


def event(session_id: str) -> dict[str, object]:
    return {"profileId": "fault-p", "type": "clicked", "attributes": {}, "sessionId": session_id}


@pytest.mark.parametrize("status", [409, 500, 502, 503, 504, 418])
def test_status_fault_answers_without_processing(
    raw_client: httpx.Client, sandbox: Sandbox, uid: Uid, status: int
) -> None:
    # Given a status fault on trackEvent
    sandbox.add_fault("trackEvent", "status", status=status)
    sid = uid("s")
    # When tracking an event
    response = raw_client.post(EVENT_PATH, json=event(sid))
    # Then the status in the error shape, nothing stored, received but not processed
    assert response.status_code == status
    assert response.json()["StatusCode"] == status
    assert sid not in sandbox.state.sessions
    assert sandbox.counts("trackEvent") == {"received": 1, "processed": 0}


def test_409_uses_talon_ones_concurrency_message(raw_client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.add_fault("updateCustomerSessionV2", "status", status=409)
    response = raw_client.put("/v2/customer_sessions/s", json={"customerSession": {}})
    assert response.json()["message"] == "Too many requests are updating this session at the same time"


def test_429_with_retry_after(raw_client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.add_fault("trackEvent", "status", status=429, retry_after=7)
    response = raw_client.post(EVENT_PATH, json=event("s"))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"


def test_status_fault_with_custom_body(raw_client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.add_fault("trackEvent", "status", status=503, body={"custom": ["x"]})
    response = raw_client.post(EVENT_PATH, json=event("s"))
    assert response.json() == {"custom": ["x"]}


def test_fault_count_and_order(raw_client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    # Given two 503s then one 500 on trackEvent
    sandbox.add_fault("trackEvent", "status", status=503, count=2)
    sandbox.add_fault("trackEvent", "status", status=500)
    # When sending four events
    statuses = [raw_client.post(EVENT_PATH, json=event(uid("s"))).status_code for _ in range(4)]
    # Then they are consumed in order, one per request, then normal service resumes
    assert statuses == [503, 503, 500, 200]
    assert sandbox.counts("trackEvent") == {"received": 4, "processed": 1}
    assert sandbox.faults == []


def test_fault_targets_only_its_operation(raw_client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.add_fault("trackEvent", "status", status=503)
    other = raw_client.put("/v1/customer_profiles/p", json={})
    assert other.status_code == 200
    assert sandbox.faults[0]["count"] == 1


def test_wildcard_fault_matches_any_operation(raw_client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.add_fault("*", "status", status=502, count=2)
    first = raw_client.put("/v1/customer_profiles/p", json={})
    second = raw_client.get("/v1/coupon_reservations/coupons/p")
    third = raw_client.get("/v1/coupon_reservations/coupons/p")
    assert [first.status_code, second.status_code, third.status_code] == [502, 502, 200]


def test_fault_applies_before_authentication(anon_client: httpx.Client, sandbox: Sandbox) -> None:
    # An outage answers before Talon.One looks at credentials
    sandbox.add_fault("trackEvent", "status", status=503)
    assert anon_client.post(EVENT_PATH, json=event("s")).status_code == 503


def test_latency_fault_delays_then_processes(raw_client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    sandbox.add_fault("trackEvent", "latency", latency_ms=300)
    sid = uid("s")
    started = time.monotonic()
    response = raw_client.post(EVENT_PATH, json=event(sid))
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    assert sandbox.counts("trackEvent") == {"received": 1, "processed": 1}


def test_latency_longer_than_the_client_timeout_still_commits(sandbox: Sandbox, uid: Uid) -> None:
    # Given a latency fault longer than the client's read timeout
    sandbox.add_fault("trackEvent", "latency", latency_ms=400)
    sid = uid("s")
    # When the client gives up
    with make_client(sandbox.url, headers=AUTH, timeout=0.1) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.post(EVENT_PATH, json=event(sid))
    # Then the sandbox still processes it (the caller cannot know)
    deadline = time.monotonic() + 3
    while sid not in sandbox.state.sessions and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sandbox.counts("trackEvent") == {"received": 1, "processed": 1}


def test_drop_closes_without_response_and_processes_nothing(
    raw_client: httpx.Client, sandbox: Sandbox, uid: Uid
) -> None:
    sandbox.add_fault("trackEvent", "drop")
    sid = uid("s")
    with pytest.raises(httpx.RemoteProtocolError):
        raw_client.post(EVENT_PATH, json=event(sid))
    assert sid not in sandbox.state.sessions
    assert sandbox.counts("trackEvent") == {"received": 1, "processed": 0}
    # The client recovers on a new connection
    assert raw_client.post(EVENT_PATH, json=event(sid)).status_code == 200


def test_drop_after_processing_commits_then_truncates(
    raw_client: httpx.Client, sandbox: Sandbox, uid: Uid
) -> None:
    # Given drop_after_processing on a session close
    sandbox.add_fault("updateCustomerSessionV2", "drop_after_processing")
    sid = uid("s")
    body = {"customerSession": {"profileId": "dap", "couponCodes": ["ONCE-ONLY"], "state": "closed"}}
    # When the client sends it
    with pytest.raises(httpx.RemoteProtocolError):
        raw_client.put(f"/v2/customer_sessions/{sid}", json=body)
    # Then the response was cut, but the side effects are committed
    assert sandbox.state.sessions[sid]["state"] == "closed"
    assert sandbox.state.coupons["ONCE-ONLY"]["usageCounter"] == 1
    assert sandbox.counts("updateCustomerSessionV2") == {"received": 1, "processed": 1}


def test_drop_after_processing_sends_headers_and_part_of_the_body(sandbox: Sandbox) -> None:
    # Given the fault, seen through a raw HTTP client to look at what arrives
    sandbox.add_fault("updateCustomerProfile", "drop_after_processing")
    conn = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=5)
    conn.request("PUT", "/v1/customer_profiles/raw", body=b"{}", headers=AUTH)
    response = conn.getresponse()
    # Then the status line and headers arrive, with more Content-Length than bytes
    assert response.status == 200
    declared = int(response.headers["Content-Length"])
    with pytest.raises(http.client.IncompleteRead) as info:
        response.read()
    assert 0 < len(info.value.partial) < declared
    conn.close()


def test_malformed_processes_and_answers_invalid_json(
    raw_client: httpx.Client, sandbox: Sandbox, uid: Uid
) -> None:
    sandbox.add_fault("trackEvent", "malformed")
    sid = uid("s")
    response = raw_client.post(EVENT_PATH, json=event(sid))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert sid in sandbox.state.sessions
    assert sandbox.counts("trackEvent") == {"received": 1, "processed": 1}


def test_respond_passes_a_verbatim_body(raw_client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    # Given a response with fields the spec does not know
    body = {"effects": [], "createdCoupons": [], "createdReferrals": [], "futureField": {"x": 1}}
    sandbox.add_fault("updateCustomerSessionV2", "respond", status=200, body=body)
    sid = uid("s")
    # When calling
    response = raw_client.put(f"/v2/customer_sessions/{sid}", json={"customerSession": {}})
    # Then it arrives byte for byte as JSON, and nothing was processed
    assert response.json() == body
    assert sid not in sandbox.state.sessions
    assert sandbox.counts("updateCustomerSessionV2") == {"received": 1, "processed": 0}


def test_latency_combines_with_another_action(raw_client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.add_fault("trackEvent", "status", status=504, latency_ms=200)
    started = time.monotonic()
    assert raw_client.post(EVENT_PATH, json=event("s")).status_code == 504
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"operation": "noSuchOperation", "action": "drop"}, "unknown operation"),
        ({"operation": "trackEvent", "action": "explode"}, "action must be one of"),
        ({"operation": "trackEvent", "action": "status"}, "needs a status"),
        ({"operation": "trackEvent", "action": "status", "status": 99}, "final HTTP status"),
        ({"operation": "trackEvent", "action": "latency"}, "needs latency_ms"),
        ({"operation": "trackEvent", "action": "respond", "status": 200}, "needs a body"),
        ({"operation": "trackEvent", "action": "drop", "count": 0}, "count must be at least 1"),
    ],
)
def test_invalid_faults_are_refused(sandbox: Sandbox, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sandbox.add_fault(**kwargs)  # type: ignore[arg-type]


def test_keep_alive_reuses_one_connection(sandbox: Sandbox, spec: object) -> None:
    # Given one HTTP/1.1 connection
    conn = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=5)
    conn.connect()
    sock = conn.sock
    # When sending several requests, including errors
    statuses = []
    for path in ["/v1/coupon_reservations/coupons/a", "/v1/nothing", "/v1/coupon_reservations/coupons/b"]:
        conn.request("GET", path, headers=AUTH)
        response = conn.getresponse()
        response.read()
        statuses.append(response.status)
    # Then all were answered on the same socket
    assert statuses == [200, 404, 200]
    assert conn.sock is sock
    conn.close()


class Clock:
    """The fault queue's clock, moved by the test: windows without racing the machine's speed."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("sandbox.faults.time", fake)
    return fake


def test_503_for_the_next_half_second(
    raw_client: httpx.Client, sandbox: Sandbox, uid: Uid, clock: Clock
) -> None:
    # Given Talon.One answering 503 to everything for the next 0.5 s
    sandbox.add_fault("*", "status", status=503, duration_s=0.5)
    # When a burst runs during that time (up to its last instant), then at its end
    burst = []
    for elapsed in (0.0, 0.1, 0.2, 0.3, 0.4, 0.49):
        clock.now = 1000.0 + elapsed
        burst.append(raw_client.post(EVENT_PATH, json=event(uid("s"))).status_code)
    clock.now = 1000.5
    after = raw_client.post(EVENT_PATH, json=event(uid("s"))).status_code
    # Then every request of the burst got 503, none was processed, and service resumes
    assert burst == [503] * 6
    assert after == 200
    assert sandbox.counts("trackEvent") == {"received": len(burst) + 1, "processed": 1}
    assert sandbox.faults == []


def test_count_and_duration_whichever_runs_out_first(
    raw_client: httpx.Client, sandbox: Sandbox, clock: Clock
) -> None:
    # At most 2 requests within 10 s
    sandbox.add_fault("trackEvent", "status", status=502, count=2, duration_s=10)
    statuses = [raw_client.post(EVENT_PATH, json=event("s")).status_code for _ in range(3)]
    assert statuses == [502, 502, 200]
    # At most 5 requests, but only for 0.2 s
    sandbox.add_fault("trackEvent", "status", status=502, count=5, duration_s=0.2)
    assert raw_client.post(EVENT_PATH, json=event("s")).status_code == 502
    clock.now += 0.25
    assert raw_client.post(EVENT_PATH, json=event("s")).status_code == 200


def test_time_based_fault_over_http(sandbox: Sandbox, raw_client: httpx.Client, clock: Clock) -> None:
    with make_client(f"{sandbox.url}/_sandbox") as admin:
        created = admin.post(
            "/faults", json={"operation": "trackEventV2", "action": "status", "status": 503, "duration_s": 2}
        )
        assert created.status_code == 201
        clock.now += 0.5
        [pending] = admin.get("/faults").json()["faults"]
    # A time-based fault has no count: it applies until it expires
    assert pending["count"] is None
    assert pending["expires_in_s"] == pytest.approx(1.5)
    statuses = {
        raw_client.post("/v2/events", json={"profileId": "p", "type": "t"}).status_code for _ in range(5)
    }
    assert statuses == {503}
    clock.now += 1.6
    assert raw_client.post("/v2/events", json={"profileId": "p", "type": "t"}).status_code != 503


def test_time_based_latency_delays_every_request(raw_client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.add_fault("trackEvent", "latency", latency_ms=100, duration_s=60)
    started = time.monotonic()
    statuses = [raw_client.post(EVENT_PATH, json=event(f"s{n}")).status_code for n in range(3)]
    assert statuses == [200, 200, 200]
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("duration", [0, -1, "2", True, float("inf")])
def test_invalid_durations_are_refused(sandbox: Sandbox, duration: object) -> None:
    with pytest.raises(ValueError, match="duration_s"):
        sandbox.add_fault("trackEvent", "drop", duration_s=duration)  # type: ignore[arg-type]


def test_parallel_updates_of_different_profiles_are_serialised(sandbox: Sandbox, uid: Uid) -> None:
    # Given many clients updating profiles at once (parallel writes to one profile get 409:
    # see test_concurrency.py)
    from concurrent.futures import ThreadPoolExecutor

    prefix = uid("p")

    def update(n: int) -> int:
        with make_client(sandbox.url, headers=AUTH) as c:
            return c.put(
                f"/v1/customer_profiles/{prefix}-{n % 6}-{n}", json={"attributes": {f"k{n}": n}}
            ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(update, range(24)))
    # Then every update is applied, with unique increasing event ids
    assert statuses == [200] * 24
    ids = [e["id"] for e in sandbox.state.events]
    assert ids == list(range(1, 25))


def test_fault_free_responses_still_validate(raw_client: httpx.Client, spec: object) -> None:
    # Sanity check of the validating hook itself on a raw response
    from sandbox import load_spec

    check_response(load_spec(), raw_client.get("/v1/coupon_reservations/coupons/x"))
