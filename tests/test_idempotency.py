"""Idempotent delivery of writes: DynamoDB through moto over HTTP, Talon.One counting its calls."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local_gateway.runtime import Runtime
from tests.conftest import SPECS, Invoke, body_json, header, load_event
from tests.support import aws, webhooks
from tests.support.upstream import Answer, RecordingUpstream

ANSWER = b'{"session":{"integrationId":"session-1"},"event":{"id":7},"effects":[]}'


def with_key(name: str, key: str, header_name: str = "Idempotency-Key") -> dict[str, Any]:
    event = load_event(name)
    event["headers"][header_name] = key
    event["multiValueHeaders"][header_name] = [key]
    return event


@pytest.fixture
def answering(recorded_gateway: RecordingUpstream) -> RecordingUpstream:
    recorded_gateway.default = Answer(200, ANSWER)
    return recorded_gateway


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_sequential_duplicate_is_replayed_without_calling_talon_one(
    answering: RecordingUpstream, invoke: Invoke
) -> None:
    # Given a tracked event with an idempotency key
    first = invoke("track_event", with_key("track_event", "order-1001-paid"))

    # When the same request arrives again
    second = invoke("track_event", with_key("track_event", "order-1001-paid"))

    # Then Talon.One was called once; the duplicate got the stored status and body, marked replayed
    assert len(answering.requests) == 1
    assert (
        (first["statusCode"], first["body"])
        == (second["statusCode"], second["body"])
        == (200, ANSWER.decode())
    )
    assert header(first, "Idempotent-Replayed") is None
    assert header(second, "Idempotent-Replayed") == "true"
    # and the key went to Talon.One with the request
    assert answering.requests[0].headers["idempotency-key"] == "order-1001-paid"


def test_key_header_is_read_case_insensitively_and_webhook_id_is_the_fallback(
    answering: RecordingUpstream, invoke: Invoke
) -> None:
    # Given the key as IDEMPOTENCY-KEY, then the same key as a signed webhook's message id
    invoke("track_event", with_key("track_event", "msg_2Kz9", "IDEMPOTENCY-KEY"))
    replay = invoke("track_event", webhooks.sign(load_event("track_event"), aws.WEBHOOK_SECRET, "msg_2Kz9"))

    # Then both name the same delivery
    assert len(answering.requests) == 1
    assert header(replay, "Idempotent-Replayed") == "true"


def test_same_key_with_another_payload_is_refused(answering: RecordingUpstream, invoke: Invoke) -> None:
    # Given a delivered event
    invoke("track_event", with_key("track_event", "order-1002"))
    other = with_key("track_event", "order-1002")
    other["body"] = other["body"].replace("viewed_promo", "cart_abandoned")

    # When another payload comes with the same key
    response = invoke("track_event", other)

    # Then it is refused with 422 and not delivered
    assert response["statusCode"] == 422
    assert "idempotency key" in body_json(response)["message"]
    assert len(answering.requests) == 1


def test_keys_are_scoped_per_operation(answering: RecordingUpstream, invoke: Invoke) -> None:
    # Given one key used by two different operations
    invoke("track_event", with_key("track_event", "shared-key"))
    response = invoke("update_customer_profile", with_key("update_customer_profile", "shared-key"))

    # Then each operation is delivered once
    assert response["statusCode"] == 200
    assert [r.method for r in answering.requests] == ["POST", "PUT"]


def test_requests_without_a_key_are_not_deduplicated(answering: RecordingUpstream, invoke: Invoke) -> None:
    invoke("track_event", load_event("track_event"))
    invoke("track_event", load_event("track_event"))
    assert len(answering.requests) == 2
    assert "idempotency-key" not in answering.requests[0].headers


def test_reads_are_never_deduplicated(answering: RecordingUpstream, invoke: Invoke) -> None:
    invoke("get_reserved_coupons", with_key("get_reserved_coupons", "k"))
    invoke("get_reserved_coupons", with_key("get_reserved_coupons", "k"))
    assert len(answering.requests) == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "line\nbreak", "clé"])
def test_malformed_keys_are_refused(key: str, answering: RecordingUpstream, invoke: Invoke) -> None:
    response = invoke("track_event", with_key("track_event", key))
    assert response["statusCode"] == 400
    assert body_json(response)["errors"][0]["source"] == {"parameter": "idempotency-key"}
    assert answering.requests == []


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        pytest.param(Answer(500, b'{"message":"boom"}'), 502, id="talon-500"),
        pytest.param(Answer(400, b'{"message":"bad"}'), 400, id="talon-400"),
    ],
)
def test_a_failed_delivery_is_not_stored(
    failure: Answer, status: int, answering: RecordingUpstream, invoke: Invoke
) -> None:
    # Given Talon.One fails the first delivery
    answering.answers.append(failure)
    first = invoke("track_event", with_key("track_event", f"retry-{status}"))

    # When the sender retries with the same key
    retry = invoke("track_event", with_key("track_event", f"retry-{status}"))

    # Then the retry reached Talon.One again and succeeded
    assert first["statusCode"] == status
    assert retry["statusCode"] == 200
    assert header(retry, "Idempotent-Replayed") is None
    assert len(answering.requests) == 2


def test_completed_records_expire_after_the_configured_period(
    answering: RecordingUpstream, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given completed records are kept three seconds (whole seconds: Powertools rounds down, so
    # one second could be over before a slow machine sends the repeat)
    monkeypatch.setenv("IDEMPOTENCY_TTL_SECONDS", "3")
    invoke("track_event", with_key("track_event", "short-lived"))
    completed = time.monotonic()
    assert (
        header(invoke("track_event", with_key("track_event", "short-lived")), "Idempotent-Replayed") == "true"
    )

    # When the period has passed
    time.sleep(max(0.0, completed + 4.1 - time.monotonic()))
    response = invoke("track_event", with_key("track_event", "short-lived"))

    # Then the key is new again
    assert header(response, "Idempotent-Replayed") is None
    assert len(answering.requests) == 2


def test_dynamodb_unreachable_with_a_key_answers_503_and_never_delivers(
    answering: RecordingUpstream, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given DynamoDB cannot be reached (Secrets Manager still can)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")

    # When a write with a key arrives
    response = invoke("track_event", with_key("track_event", "no-store"))

    # Then the caller is told to retry later and Talon.One is not called
    assert response["statusCode"] == 503
    assert header(response, "Retry-After") == "1"
    assert answering.requests == []


@pytest.fixture
def runtime(answering: RecordingUpstream) -> Iterator[Callable[[int], Runtime]]:
    """Separate worker processes, like concurrent Lambda execution environments."""
    started: list[Runtime] = []

    def start(workers: int) -> Runtime:
        runtime = Runtime(dict(os.environ), workers=workers)
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        runtime.close()


def test_concurrent_duplicates_reach_talon_one_exactly_once(
    answering: RecordingUpstream, runtime: Callable[[int], Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a slow Talon.One (within the gateway's read timeout) and 20 execution environments
    monkeypatch.setenv("TALON_READ_TIMEOUT", "10")
    answering.default = Answer(200, ANSWER, delay=2.0)
    environments = runtime(20)
    spec = SPECS["track_event"]

    # When 20 copies of one webhook arrive at once
    futures = [environments.submit(spec, with_key("track_event", "order-2001-paid")) for _ in range(20)]
    results = [future.result(timeout=60) for future in futures]

    # Then Talon.One saw it once; the others were told it is in progress (409) or got the replay
    assert len(answering.requests) == 1
    outcomes = Counter(
        "replayed" if header(r, "Idempotent-Replayed") else str(r["statusCode"]) for r in results
    )
    print(f"\n20 concurrent duplicates: {dict(outcomes)}")
    assert outcomes["200"] == 1
    assert outcomes["200"] + outcomes["409"] + outcomes["replayed"] == 20
    for result in results:
        if result["statusCode"] == 409:
            assert header(result, "Retry-After") == "1"
            assert "in progress" in json.loads(result["body"])["message"]


def test_in_flight_records_expire_with_the_lambda_timeout(
    answering: RecordingUpstream, runtime: Callable[[int], Runtime]
) -> None:
    # Given a function whose Lambda timeout is 8 s and an invocation that dies while in flight
    # (8 s: a slow machine's kill and fresh environment still land well inside it)
    timeout = 8
    answering.default = Answer(200, ANSWER, delay=30)
    spec = dataclasses.replace(SPECS["track_event"], timeout=timeout)
    doomed = runtime(1)
    pid = doomed.call(os.getpid)
    doomed.submit(spec, with_key("track_event", "crashed-1"))
    deadline = time.monotonic() + 10
    while not answering.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert answering.requests, "the first delivery never reached Talon.One"
    # The record expires at the invocation's start plus its timeout: before this plus the timeout
    expired_by = time.monotonic() + timeout + 0.5
    os.kill(pid, signal.SIGKILL)  # the environment is gone; its in-flight record stays behind

    answering.default = Answer(200, ANSWER)
    fresh = runtime(1)
    # When a retry arrives before the timeout, then after it
    early = fresh.invoke(spec, with_key("track_event", "crashed-1"), timeout=30)
    time.sleep(max(0.0, expired_by - time.monotonic()))
    late = fresh.invoke(spec, with_key("track_event", "crashed-1"), timeout=30)

    # Then the early retry is told to wait, the late one is delivered
    assert early["statusCode"] == 409
    assert late["statusCode"] == 200
    assert header(late, "Idempotent-Replayed") is None
    assert len(answering.requests) == 2
