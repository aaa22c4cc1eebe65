"""Parallel writes to one session or profile: Talon.One refuses the late one with 409, unprocessed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from sandbox import Sandbox
from sandbox.errors import CONCURRENT_PROFILE_MESSAGE, CONCURRENT_SESSION_MESSAGE

from .conftest import AUTH, make_client

Uid = Callable[[str], str]


@pytest.fixture
def slow(sandbox: Sandbox) -> Iterator[Sandbox]:
    """Every request takes a second, holding its session or profile meanwhile (a second: the
    parallel requests, validated client-side first, must arrive while it holds on a busy machine)."""
    sandbox.processing_delay_ms = 1000
    try:
        yield sandbox
    finally:
        sandbox.processing_delay_ms = 0


def in_background(
    sandbox: Sandbox, method: str, path: str, body: object
) -> tuple[threading.Thread, list[int]]:
    statuses: list[int] = []

    def send() -> None:
        with make_client(sandbox.url, headers=AUTH) as c:
            statuses.append(c.request(method, path, json=body).status_code)

    before = len(sandbox.received)
    thread = threading.Thread(target=send)
    thread.start()
    # Until the sandbox has the request (a fixed pause loses the race on a busy machine), and a
    # moment more for it to take hold of its entity: it holds it for a second.
    deadline = time.monotonic() + 10
    while len(sandbox.received) == before and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)
    return thread, statuses


def session_body(profile: str = "") -> dict[str, object]:
    return {"customerSession": {"profileId": profile, "couponCodes": ["ONCE-ONLY"], "state": "closed"}}


def test_a_write_held_by_latency_makes_a_parallel_write_409(
    sandbox: Sandbox, client: httpx.Client, uid: Uid
) -> None:
    # Given a session update held by an injected latency
    sid = uid("s")
    sandbox.add_fault("updateCustomerSessionV2", "latency", latency_ms=1200)
    thread, statuses = in_background(sandbox, "PUT", f"/v2/customer_sessions/{sid}", session_body())
    # When a second update of the same session arrives meanwhile
    second = client.put(f"/v2/customer_sessions/{sid}", json=session_body())
    thread.join()
    # Then the second gets Talon.One's 409 without being processed; the first succeeds
    assert second.status_code == 409
    assert second.json()["message"] == CONCURRENT_SESSION_MESSAGE
    assert statuses == [200]
    assert sandbox.counts("updateCustomerSessionV2") == {"received": 2, "processed": 1}
    assert sandbox.state.coupons["ONCE-ONLY"]["usageCounter"] == 1
    assert sandbox.state.sessions[sid]["updateCount"] == 1


def test_other_sessions_and_reads_are_not_held(slow: Sandbox, client: httpx.Client, uid: Uid) -> None:
    # Given a slow update of one session
    sid = uid("s")
    thread, statuses = in_background(slow, "PUT", f"/v2/customer_sessions/{sid}", session_body())
    # When another session is updated and the first one is read meanwhile
    other = client.put(f"/v2/customer_sessions/{uid('s')}", json={"customerSession": {}})
    read = client.get(f"/v2/customer_sessions/{sid}")
    thread.join()
    # Then both go through: only writes hold their entity (the read, slow too, sees the commit)
    assert other.status_code == 200
    assert read.status_code == 200
    assert statuses == [200]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/v2/customer_sessions/{sid}/reopen", None),
        ("POST", "/v2/customer_sessions/{sid}/returns", {"return": {"returnedCartItems": [{"position": 0}]}}),
        ("PUT", "/v1/customer_sessions/{sid}", {}),
        ("POST", "/v1/events", {"type": "clicked", "attributes": {}, "sessionId": "{sid}"}),
    ],
)
def test_every_write_to_a_session_is_refused_while_it_is_held(
    slow: Sandbox, client: httpx.Client, uid: Uid, method: str, path: str, body: dict[str, object] | None
) -> None:
    sid = uid("s")
    thread, _ = in_background(slow, "PUT", f"/v2/customer_sessions/{sid}", session_body())
    if body is not None and "sessionId" in body:
        body = {**body, "sessionId": sid}
    response = client.request(method, path.format(sid=sid), json=body)
    thread.join()
    assert response.status_code == 409  # the client fixture checked its shape against the spec


def test_a_dry_run_is_not_held_or_refused(slow: Sandbox, client: httpx.Client, uid: Uid) -> None:
    sid = uid("s")
    thread, _ = in_background(slow, "PUT", f"/v2/customer_sessions/{sid}", session_body())
    dry = client.put(f"/v2/customer_sessions/{sid}?dry=true", json={"customerSession": {}})
    thread.join()
    assert dry.status_code == 200


def test_parallel_profile_writes(slow: Sandbox, client: httpx.Client, uid: Uid) -> None:
    # Given a slow profile update
    pid = uid("p")
    thread, statuses = in_background(slow, "PUT", f"/v2/customer_profiles/{pid}", {"attributes": {"a": 1}})
    # When the same profile is written by a profile update and an event meanwhile
    profile = client.put(f"/v2/customer_profiles/{pid}", json={"attributes": {"a": 2}})
    event = client.post("/v3/events", json={"profileId": pid, "type": "t", "integrationId": uid("e")})
    thread.join()
    # Then both are refused with the profile wording, and the first update is what is stored
    assert (profile.status_code, event.status_code) == (409, 409)
    assert profile.json()["message"] == CONCURRENT_PROFILE_MESSAGE
    assert statuses == [200]
    assert slow.state.profiles[pid]["attributes"] == {"a": 1}


def test_sequential_writes_to_one_session_all_succeed(sandbox: Sandbox, uid: Uid) -> None:
    # Sent one after the other, as Talon.One recommends, none of them is refused
    sid = uid("s")
    with make_client(sandbox.url, headers=AUTH) as c:
        statuses = [
            c.put(
                f"/v2/customer_sessions/{sid}", json={"customerSession": {"attributes": {f"k{n}": n}}}
            ).status_code
            for n in range(20)
        ]
    assert statuses == [200] * 20
    assert sandbox.state.sessions[sid]["updateCount"] == 20


def test_a_burst_on_one_profile_gets_200s_and_409s_only(sandbox: Sandbox, uid: Uid) -> None:
    # Given many clients updating the same profile at once, each request taking 20 ms
    sandbox.processing_delay_ms = 20
    pid = uid("p")

    def update(n: int) -> int:
        with make_client(sandbox.url, headers=AUTH) as c:
            return c.put(f"/v1/customer_profiles/{pid}", json={"attributes": {f"k{n}": n}}).status_code

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(update, range(24)))
    finally:
        sandbox.processing_delay_ms = 0
    # Then each one either succeeded or was refused, and only the successes left a trace
    assert set(statuses) <= {200, 409}
    assert 409 in statuses
    accepted = statuses.count(200)
    assert len(sandbox.state.profiles[pid]["attributes"]) == accepted
    assert [e["id"] for e in sandbox.state.events] == list(range(1, accepted + 1))


def test_parallel_writes_to_different_profiles_all_succeed(sandbox: Sandbox, uid: Uid) -> None:
    def update(n: int) -> int:
        with make_client(sandbox.url, headers=AUTH) as c:
            return c.put(f"/v1/customer_profiles/{uid('p')}-{n}", json={"attributes": {"n": n}}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(update, range(24)))
    assert statuses == [200] * 24
    assert [e["id"] for e in sandbox.state.events] == list(range(1, 25))


def test_processing_delay_is_configurable_over_http(sandbox: Sandbox) -> None:
    with make_client(f"{sandbox.url}/_sandbox") as admin:
        assert admin.get("/config").json() == {"processing_delay_ms": 0}
        assert admin.put("/config", json={"processing_delay_ms": 5}).json() == {"processing_delay_ms": 5}
        assert sandbox.processing_delay_ms == 5
        assert admin.put("/config", json={"processing_delay_ms": -1}).status_code == 400
        assert admin.put("/config", json={"delay": 1}).status_code == 400
        assert admin.put("/config", json={"processing_delay_ms": 0}).status_code == 200
