"""Asynchronous delivery end to end: the local runner's gateway, queue, worker and the sandbox.

As `make run` starts them, in-process: writes accepted over HTTP with Prefer: respond-async,
the FIFO queue polled as Lambda's event source does, the worker delivering to the stateful
sandbox, which counts what it processed (exactly once each is the point). The deployment's
parameters are shortened (3 attempts, 1 s backoff cap) so that dead letters come in seconds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local_gateway.stack import LocalStack
from talon_gateway.upstream.policy import MAX_ATTEMPTS
from tests.conftest import reset_sandbox
from tools import dlq

# A stack to start and every delivery to settle, on a slow machine: more than the default 120 s.
pytestmark = pytest.mark.timeout(300)
SESSIONS = 20
UPDATES = 10
# 503s in a row. A delivery attempt sends up to MAX_ATTEMPTS requests, and the runner's two
# pollers send at most two at a time, so one of them must fail a whole attempt (the queue
# redelivers it) once more than 2 * (MAX_ATTEMPTS - 1) have been answered; fewer than
# 3 * MAX_ATTEMPTS (MaxReceiveCount attempts) leave no delivery dead.
OUTAGE = 3 * MAX_ATTEMPTS - 2


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(
        port=0,
        sandbox_port=0,
        workers=2,
        parameters={"MaxReceiveCount": "3", "MaxBackoffSeconds": "1"},
    ) as running:
        yield running


@pytest.fixture
def http(stack: LocalStack) -> Iterator[httpx.Client]:
    reset_sandbox(stack)
    httpx.delete(f"{stack.talon_url}/_sandbox/faults", timeout=10)
    with httpx.Client(
        base_url=stack.url, timeout=30, headers={"Authorization": f"Bearer {stack.token}"}
    ) as client:
        yield client


def cart(session: str, step: int) -> dict[str, Any]:
    """The step-th update of a session: its quantity says which one it was."""
    return {
        "customerSession": {
            "profileId": f"shopper-{session}",
            "cartItems": [{"name": "Socks", "sku": "SKU-SOCKS", "quantity": step, "price": 4.5}],
        }
    }


def accept(client: httpx.Client, path: str, body: dict[str, Any], **headers: str) -> str:
    response = client.put(path, json=body, headers={"Prefer": "respond-async", **headers})
    assert response.status_code == 202, response.text
    return str(response.headers["location"])


def settle(client: httpx.Client, locations: list[str], timeout: float = 90) -> dict[str, dict[str, Any]]:
    """Every delivery's last state, once none is queued or failed any more."""
    deadline = time.monotonic() + timeout
    states: dict[str, dict[str, Any]] = {}
    pending = list(locations)
    while pending and time.monotonic() < deadline:
        still = []
        for location in pending:
            state = client.get(location).json()
            states[location] = state
            if state["state"] in ("queued", "failed"):
                still.append(location)
        pending = still
        if pending:
            time.sleep(0.5)
    assert pending == [], f"{len(pending)} deliveries never settled"
    return states


def sessions(stack: LocalStack) -> dict[str, Any]:
    state = httpx.get(f"{stack.talon_url}/_sandbox/state", timeout=10).json()
    return dict(state["sessions"])


def counts(stack: LocalStack, operation: str) -> dict[str, int]:
    return dict(httpx.get(f"{stack.talon_url}/_sandbox/counts", timeout=10).json()[operation])


def test_a_burst_through_an_outage_is_delivered_once_each_in_order(
    stack: LocalStack, http: httpx.Client
) -> None:
    # Given Talon.One answering 503 to the first session updates of a burst: a count, not a time
    # window, so that a slow machine cannot outlast the outage before delivering anything
    httpx.post(
        f"{stack.talon_url}/_sandbox/faults",
        json={"operation": "updateCustomerSessionV2", "action": "status", "status": 503, "count": OUTAGE},
        timeout=10,
    )

    # When 200 writes are accepted across 20 sessions, each session's in order
    locations: dict[str, list[str]] = {}

    def storefront(session: str) -> None:
        locations[session] = [
            accept(http, f"/v2/customer_sessions/burst-{session}", cart(session, step))
            for step in range(1, UPDATES + 1)
        ]

    threads = [threading.Thread(target=storefront, args=(f"s{n:02d}",)) for n in range(SESSIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    states = settle(http, [loc for locs in locations.values() for loc in locs])

    # Then every write was delivered, none lost or dead...
    assert {s["state"] for s in states.values()} == {"delivered"}
    assert sum(s["attempts"] > 1 for s in states.values()) > 0, "the outage should have caused retries"
    # ...Talon.One processed each exactly once (a 503 processes nothing)...
    assert counts(stack, "updateCustomerSessionV2")["processed"] == SESSIONS * UPDATES
    # ...and each session ends as its last accepted update left it: the order held
    stored = sessions(stack)
    for session in locations:
        assert stored[f"burst-{session}"]["cartItems"][0]["quantity"] == UPDATES, session


def test_a_storm_of_updates_to_one_session_is_delivered_in_sequence(
    stack: LocalStack, http: httpx.Client
) -> None:
    # Given Talon.One refusing parallel writes to one session (409), each write taking 20 ms
    httpx.put(f"{stack.talon_url}/_sandbox/config", json={"processing_delay_ms": 20}, timeout=10)
    try:
        # When 10 updates of one session are accepted at once (10 callers)
        results: list[str] = []
        barrier = threading.Barrier(UPDATES)

        def caller(step: int) -> None:
            barrier.wait()
            results.append(accept(http, "/v2/customer_sessions/storm-1", cart("storm", step)))

        threads = [threading.Thread(target=caller, args=(n,)) for n in range(1, UPDATES + 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        states = settle(http, results)
    finally:
        httpx.put(f"{stack.talon_url}/_sandbox/config", json={"processing_delay_ms": 0}, timeout=10)

    # Then all were delivered one after the other: no 409 at all, none dead
    assert {s["state"] for s in states.values()} == {"delivered"}
    processed = counts(stack, "updateCustomerSessionV2")
    assert processed == {"received": UPDATES, "processed": UPDATES}


def test_a_poison_message_is_dead_lettered_while_others_flow_then_replayed_once(
    stack: LocalStack, http: httpx.Client
) -> None:
    # Given a closed session whose returns Talon.One keeps failing (a poison for now)
    closing = {
        "customerSession": {
            "profileId": "poison-shopper",
            "state": "open",
            "cartItems": cart("p", 2)["customerSession"]["cartItems"],
        }
    }
    assert http.put("/v2/customer_sessions/poison-1", json=closing).status_code == 200
    assert (
        http.put("/v2/customer_sessions/poison-1", json={"customerSession": {"state": "closed"}}).status_code
        == 200
    )
    httpx.post(
        f"{stack.talon_url}/_sandbox/faults",
        json={"operation": "returnCartItems", "action": "status", "status": 500, "count": 1000},
        timeout=10,
    )

    # When the return is accepted, and other sessions' updates after it
    response = http.post(
        "/v2/customer_sessions/poison-1/returns",
        json={"return": {"returnedCartItems": [{"position": 0, "quantity": 1}]}},
        headers={"Prefer": "respond-async"},
    )
    assert response.status_code == 202, response.text
    poison = response.headers["location"]
    others = [accept(http, f"/v2/customer_sessions/flow-{n}", cart(str(n), 1)) for n in range(5)]

    # Then the others are delivered while the poison dies after its attempts (3 here)
    assert {s["state"] for s in settle(http, others).values()} == {"delivered"}
    dead = settle(http, [poison])[poison]
    assert (dead["state"], dead["attempts"]) == ("dead", 3)
    targets = dlq.Targets(
        stack.queue_urls["DeliveryQueue"],
        stack.queue_urls["DeadLetterQueue"],
        "local-talon-gateway-state",
        stack.environment["AWS_ENDPOINT_URL"],
        "eu-west-1",
    )
    sqs, dynamodb = dlq.clients(targets)
    deadline = time.monotonic() + 10
    while not (listed := dlq.receive_dead(sqs, dynamodb, targets)) and time.monotonic() < deadline:
        time.sleep(0.5)  # SQS moves the message at its next receive
    assert [entry.delivery_id for entry in listed] == [poison.rsplit("/", 1)[1]]
    assert "returnCartItems" in dlq.describe(listed[0], bodies=False)
    assert "returnedCartItems" not in dlq.describe(listed[0], bodies=False)  # no bodies by default

    # When Talon.One is well again and the dead letters are replayed
    httpx.delete(f"{stack.talon_url}/_sandbox/faults", timeout=10)
    assert dlq.replay(sqs, dynamodb, targets, listed) == 1

    # Then the return is delivered, once
    replayed = settle(http, [poison])[poison]
    assert (replayed["state"], replayed["attempts"]) == ("delivered", 1)  # a fresh start
    assert counts(stack, "returnCartItems")["processed"] == 1
    assert sessions(stack)["poison-1"]["state"] == "partially_returned"
    assert dlq.receive_dead(sqs, dynamodb, targets) == []


def test_the_delivery_log_names_each_delivery(stack: LocalStack, http: httpx.Client) -> None:
    lines: list[str] = []
    stack.delivery_log = lines.append
    try:
        location = accept(http, "/v2/customer_sessions/logged-1", cart("l", 1))
        settle(http, [location])
        delivery_id = location.rsplit("/", 1)[1]
        # The event source writes the line after the batch's answer is applied: wait for it
        deadline = time.monotonic() + 10
        while not any(delivery_id in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stack.delivery_log = lambda line: None
    assert any(delivery_id in line and "delivered" in line for line in lines), lines
    assert not any("SKU-SOCKS" in line or "shopper-l" in line for line in lines)
    json.dumps(lines)  # plain text lines
