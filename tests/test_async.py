"""Asynchronous delivery, function by function: accept → SQS FIFO (moto over HTTP) → worker → Talon.One.

The API functions and the worker run in-process with their events; the queue is moto's (with
its FIFO ordering fixed, local_gateway/aws_resources.py); Talon.One a recording server that
counts what reaches it. End-to-end bursts through the local runner: tests/test_async_e2e.py.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from local_gateway import aws_resources
from local_gateway.event_source import sqs_event
from talon_gateway.delivery import aws as clients
from talon_gateway.delivery import deliveries, idempotency
from talon_gateway.delivery import worker as delivery_worker
from talon_gateway.delivery.queue import digest
from talon_gateway.upstream.policy import MAX_ATTEMPTS
from tests.conftest import Invoke, body_json, header, load_event
from tests.support import aws
from tests.support.faulty_aws import FaultyAws
from tests.support.queues import URLS, Worker, messages, sqs
from tests.support.upstream import Answer, RecordingUpstream

ASYNC = {"Prefer": "respond-async"}


def with_headers(event: dict[str, Any], **headers: str) -> dict[str, Any]:
    names = {name.replace("_", "-"): value for name, value in headers.items()}
    return event | {
        "headers": event["headers"] | names,
        "multiValueHeaders": event["multiValueHeaders"] | {k: [v] for k, v in names.items()},
    }


def queued(function: str, key: str | None = None, body: str | None = None, **headers: str) -> dict[str, Any]:
    event = with_headers(load_event(function), Prefer="respond-async", **headers)
    if key is not None:
        event = with_headers(event, Idempotency_Key=key)
    if body is not None:
        event["body"] = body
    return event


def read(invoke: Invoke, location: str, token: str = aws.BEARER_TOKEN) -> dict[str, Any]:
    delivery_id = location.rsplit("/", 1)[1]
    event = load_event("get_delivery")
    event["pathParameters"] = {"deliveryId": delivery_id}
    event["path"] = f"/deliveries/{delivery_id}"
    event["headers"]["Authorization"] = f"Bearer {token}"
    event["multiValueHeaders"]["Authorization"] = [f"Bearer {token}"]
    return invoke("get_delivery", event)


# -- accept -------------------------------------------------------------------------------------


def test_a_write_with_prefer_respond_async_is_queued_and_answered_202(
    recorded_gateway: RecordingUpstream, invoke: Invoke, queues: None
) -> None:
    # When a session update asks for asynchronous processing
    response = invoke("update_customer_session_v2", queued("update_customer_session_v2"))

    # Then it is accepted at once: 202, its delivery id, where to read it; Talon.One not called yet
    assert response["statusCode"] == 202, response["body"]
    answer = body_json(response)
    assert answer == {"deliveryId": answer["deliveryId"], "state": "queued"}
    assert header(response, "Location") == f"/deliveries/{answer['deliveryId']}"
    assert header(response, "Preference-Applied") == "respond-async"
    assert recorded_gateway.requests == []
    # and one message names it, grouped by its session, and carries nothing else
    (message,) = messages()
    assert json.loads(message["Body"]) == {"deliveryId": answer["deliveryId"]}
    assert message["Attributes"]["MessageGroupId"] == digest("session:cart-7f3a/2026")
    assert read(invoke, header(response, "Location") or "")["statusCode"] == 200


def test_a_read_ignores_prefer_respond_async(
    recorded_gateway: RecordingUpstream, invoke: Invoke, queues: None
) -> None:
    response = invoke("get_customer_inventory", with_headers(load_event("get_customer_inventory"), **ASYNC))
    assert response["statusCode"] == 200
    assert len(recorded_gateway.requests) == 1
    assert messages() == []


def test_a_repeat_answers_the_same_202_and_queues_nothing(invoke: Invoke, queues: None) -> None:
    first = invoke("track_event_v2", queued("track_event_v2", key="order-77-paid"))
    again = invoke("track_event_v2", queued("track_event_v2", key="order-77-paid"))
    other = invoke("track_event_v2", queued("track_event_v2", key="order-77-paid", body='{"type":"other"}'))

    assert (first["statusCode"], again["statusCode"], other["statusCode"]) == (202, 202, 422)
    assert again["body"] == first["body"]
    assert header(again, "Location") == header(first, "Location")
    assert header(again, "Idempotent-Replayed") == "true"
    assert len(messages()) == 1


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("k" * 255, id="255-characters"),
        pytest.param("order 77 / paid (retry)", id="spaces-and-punctuation"),
        pytest.param("~!@#$%^&*()_+`-={}|[]\\:\";'<>?,./", id="every-punctuation"),
    ],
)
def test_any_key_the_synchronous_path_accepts_is_accepted(key: str, invoke: Invoke, queues: None) -> None:
    response = invoke("track_event_v2", queued("track_event_v2", key=key))
    assert response["statusCode"] == 202, response["body"]
    (message,) = messages()
    assert message["Attributes"]["MessageDeduplicationId"] == digest(f"trackEventV2#{key}")


def test_writes_without_a_key_are_distinct_deliveries(invoke: Invoke, queues: None) -> None:
    first = invoke("track_event_v2", queued("track_event_v2"))
    second = invoke("track_event_v2", queued("track_event_v2"))
    assert body_json(first)["deliveryId"] != body_json(second)["deliveryId"]
    assert len(messages()) == 2


def test_an_unreachable_queue_is_a_503_and_accepts_nothing(
    recorded_gateway: RecordingUpstream,
    invoke: Invoke,
    queues: None,
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given SQS refusing every SendMessage
    with FaultyAws(moto_endpoint) as faulty:
        monkeypatch.setenv("AWS_ENDPOINT_URL", faulty.url)
        faulty.fail("AmazonSQS.SendMessage", count=1000)
        response = invoke("track_event_v2", queued("track_event_v2", key="queue-down"))
        # Then no 202: a 503 the caller retries, with nothing left behind
        assert response["statusCode"] == 503
        assert header(response, "Retry-After") is not None
        assert faulty.calls["AmazonSQS.SendMessage"] >= 1
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    clients.reset()  # a new execution environment, with the real endpoint
    idempotency.reset()
    assert messages() == []
    # and the retry, once SQS is back, is accepted (the key was not kept by the failure)
    retry = invoke("track_event_v2", queued("track_event_v2", key="queue-down"))
    assert retry["statusCode"] == 202
    assert recorded_gateway.requests == []


# -- deliver ------------------------------------------------------------------------------------


DOWN = Answer(503, b'{"message":"down"}')


def session_write(name: str) -> dict[str, Any]:
    event = queued("update_customer_session_v2")
    event["pathParameters"] = {"customerSessionId": name}
    event["path"] = f"/v2/customer_sessions/{name}"
    return event


def until_received(worker: Worker, timeout: float = 10) -> dict[str, Any]:
    """The next poll that receives something (after the backoff the messages wait for)."""
    deadline = time.monotonic() + timeout
    result = worker()
    while result["messages"] == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
        result = worker()
    return result


def test_the_worker_delivers_and_the_outcome_is_readable(
    recorded_gateway: RecordingUpstream, invoke: Invoke, worker: Worker
) -> None:
    recorded_gateway.default = Answer(200, b'{"effects":[],"customerSession":{"state":"open"}}')
    accepted = invoke("update_customer_session_v2", queued("update_customer_session_v2", key="cart-1-v1"))
    location = header(accepted, "Location") or ""

    result = worker()

    assert result["batchItemFailures"] == []
    sent = recorded_gateway.requests[0]
    assert (sent.method, sent.target) == ("PUT", "/v2/customer_sessions/cart-7f3a%2F2026?dry=false")
    assert sent.body == load_event("update_customer_session_v2")["body"].encode()
    assert sent.headers["idempotency-key"] == "cart-1-v1"
    outcome = body_json(read(invoke, location))
    assert outcome == {
        "id": location.rsplit("/", 1)[1],
        "state": "delivered",
        "attempts": 1,
        "talonStatus": 200,
        "talonBody": {"effects": [], "customerSession": {"state": "open"}},
    }


def test_a_transient_failure_is_retried_after_a_backoff(
    recorded_gateway: RecordingUpstream, invoke: Invoke, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Talon.One failing (every in-Lambda retry of the attempt), then well again
    held: list[int] = []
    hold = delivery_worker._hold

    def spy(record: Any, seconds: int) -> None:
        held.append(seconds)
        hold(record, seconds)

    monkeypatch.setattr(delivery_worker, "_hold", spy)
    recorded_gateway.default = DOWN
    accepted = invoke("update_customer_session_v2", queued("update_customer_session_v2"))
    first = worker()
    assert len(first["batchItemFailures"]) == 1
    outcome = body_json(read(invoke, header(accepted, "Location") or ""))
    assert (outcome["state"], outcome["attempts"]) == ("failed", 1)
    # The message was held back for the backoff (MaxBackoffSeconds=1: the entity's queue waits)
    assert held == [1]

    # When the backoff is over
    recorded_gateway.default = Answer(200, b'{"effects":[]}')
    time.sleep(1.1)
    second = until_received(worker)

    # Then the second attempt delivers it
    assert second["batchItemFailures"] == []
    outcome = body_json(read(invoke, header(accepted, "Location") or ""))
    assert (outcome["state"], outcome["attempts"], outcome["talonStatus"]) == ("delivered", 2, 200)


def test_a_permanent_refusal_goes_to_the_dead_letter_queue_at_once(
    recorded_gateway: RecordingUpstream, invoke: Invoke, worker: Worker
) -> None:
    recorded_gateway.default = Answer(400, b'{"message":"Invalid session","errors":[]}')
    accepted = invoke("update_customer_session_v2", queued("update_customer_session_v2"))

    result = worker()

    # Talon.One was asked once; the message left the queue for the dead-letter queue
    assert result["batchItemFailures"] == []
    assert len(recorded_gateway.requests) == 1
    assert messages() == []
    (dead,) = messages("DeadLetterQueue")
    assert json.loads(dead["Body"])["deliveryId"] == body_json(accepted)["deliveryId"]
    outcome = body_json(read(invoke, header(accepted, "Location") or ""))
    assert (outcome["state"], outcome["talonStatus"]) == ("dead", 400)
    assert outcome["talonBody"] == {"message": "Invalid session", "errors": []}


@pytest.mark.parametrize("status", [401, 403, 409, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried_not_dead_lettered(
    status: int, recorded_gateway: RecordingUpstream, invoke: Invoke, worker: Worker
) -> None:
    recorded_gateway.default = Answer(status, b'{"message":"later"}')
    invoke("update_customer_session_v2", queued("update_customer_session_v2"))
    result = worker()
    assert len(result["batchItemFailures"]) == 1
    assert messages("DeadLetterQueue") == []


def test_a_failing_entity_does_not_block_the_others(
    recorded_gateway: RecordingUpstream, invoke: Invoke, worker: Worker
) -> None:
    # Given two writes of one session and one of another, the first of the session failing
    recorded_gateway.answers.append(DOWN)
    recorded_gateway.answers.extend(DOWN for _ in range(3))
    recorded_gateway.default = Answer(200, b"{}")

    invoke("update_customer_session_v2", session_write("cart-a"))
    invoke("update_customer_session_v2", session_write("cart-a"))
    invoke("update_customer_session_v2", session_write("cart-b"))

    # When the batch is processed
    result = worker()

    # Then the failing session's two writes come back (in order, later), the other is delivered
    assert len(result["batchItemFailures"]) == 2
    delivered = [r.target for r in recorded_gateway.requests if "cart-b" in r.target]
    assert len(delivered) == 1
    assert not any("cart-a" in r.target for r in recorded_gateway.requests[-1:])


def test_the_followers_of_a_failing_write_wait_for_its_backoff_only(
    recorded_gateway: RecordingUpstream, invoke: Invoke, worker: Worker
) -> None:
    # Given two writes of one session in one batch, the first failing one attempt (all its
    # in-Lambda tries)
    recorded_gateway.answers.extend(DOWN for _ in range(MAX_ATTEMPTS))
    recorded_gateway.default = Answer(200, b"{}")
    first = header(invoke("update_customer_session_v2", session_write("cart-f")), "Location") or ""
    second = header(invoke("update_customer_session_v2", session_write("cart-f")), "Location") or ""
    assert len(worker()["batchItemFailures"]) == 2

    # When the first one's backoff (MaxBackoffSeconds=1) is over: not the queue's 180 s
    # visibility timeout, which the follower skipped behind it would otherwise wait for
    result = until_received(worker)

    # Then both come back, in order, and are delivered; the follower was never attempted before
    assert (result["messages"], result["batchItemFailures"]) == (2, [])
    assert (body_json(read(invoke, first))["attempts"], body_json(read(invoke, second))["attempts"]) == (2, 1)


def test_a_follower_skipped_past_the_attempt_limit_is_still_delivered(
    recorded_gateway: RecordingUpstream, invoke: Invoke, worker: Worker
) -> None:
    # Given a session's write failing every attempt (MaxReceiveCount=3) and a later write
    # behind it in every batch: received three times, attempted never
    recorded_gateway.answers.extend(DOWN for _ in range(3 * MAX_ATTEMPTS))
    recorded_gateway.default = Answer(200, b"{}")
    poison = header(invoke("update_customer_session_v2", session_write("cart-s")), "Location") or ""
    later = header(invoke("update_customer_session_v2", session_write("cart-s")), "Location") or ""
    for _ in range(2):
        result = until_received(worker)
        assert (result["messages"], len(result["batchItemFailures"])) == (2, 2)

    # When they are received a third time (the first one's last attempt)
    result = until_received(worker)

    # Then the first is dead-lettered and the later one delivered behind it (not redriven to
    # the dead-letter queue unattempted, as its three receives would have it)
    assert (result["messages"], result["batchItemFailures"]) == (2, [])
    assert body_json(read(invoke, poison))["state"] == "dead"
    assert (body_json(read(invoke, later))["state"], body_json(read(invoke, later))["attempts"]) == (
        "delivered",
        1,
    )
    (dead,) = messages("DeadLetterQueue")
    assert json.loads(dead["Body"])["deliveryId"] == poison.rsplit("/", 1)[1]


def test_a_failed_move_to_the_dead_letter_queue_loses_nothing(
    recorded_gateway: RecordingUpstream,
    invoke: Invoke,
    worker: Worker,
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given Talon.One refusing a write for good, and the dead-letter queue's SendMessage failing
    recorded_gateway.default = Answer(400, b'{"message":"Invalid session","errors":[]}')
    accepted = header(invoke("update_customer_session_v2", queued("update_customer_session_v2")), "Location")
    with FaultyAws(moto_endpoint) as faulty:
        monkeypatch.setenv("AWS_ENDPOINT_URL", faulty.url)
        clients.reset()
        faulty.fail("AmazonSQS.SendMessage", count=1000)  # botocore's retry fails too
        failed = worker()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    clients.reset()
    # Then the message stays on the queue, its record not dead yet
    assert len(failed["batchItemFailures"]) == 1
    assert body_json(read(invoke, accepted or ""))["state"] == "queued"
    assert messages("DeadLetterQueue") == []

    # When it comes back (after a backoff), the move is made
    assert until_received(worker)["batchItemFailures"] == []
    assert body_json(read(invoke, accepted or ""))["state"] == "dead"
    assert len(messages("DeadLetterQueue")) == 1
    assert messages() == []


def test_a_message_whose_record_is_dead_is_moved_not_dropped(
    recorded_gateway: RecordingUpstream, invoke: Invoke, worker: Worker
) -> None:
    # Given a message still on the delivery queue though its record says dead (its move to the
    # dead-letter queue was sent, and the batch's delete of it failed; or the reverse)
    accepted = header(invoke("update_customer_session_v2", queued("update_customer_session_v2")), "Location")
    delivery_id = (accepted or "").rsplit("/", 1)[1]
    deliveries.settle(delivery_id, "dead", attempts=3, last_error="Talon.One answered 503")

    # When the worker receives it
    assert worker()["batchItemFailures"] == []

    # Then it is on the dead-letter queue (for make dlq and the alarm), and Talon.One not asked
    (dead,) = messages("DeadLetterQueue")
    assert json.loads(dead["Body"])["deliveryId"] == delivery_id
    assert recorded_gateway.requests == []


def test_the_last_attempt_marks_the_delivery_dead(
    recorded_gateway: RecordingUpstream, invoke: Invoke, worker: Worker
) -> None:
    recorded_gateway.default = DOWN
    accepted = invoke("update_customer_session_v2", queued("update_customer_session_v2"))
    for _ in range(3):
        worker()
        time.sleep(1.2)
    # Then: dead after MAX_RECEIVE_COUNT attempts, moved to the dead-letter queue by the worker
    outcome = body_json(read(invoke, header(accepted, "Location") or ""))
    assert (outcome["state"], outcome["attempts"]) == ("dead", 3)
    assert worker()["messages"] == 0
    assert len(messages("DeadLetterQueue")) == 1


def test_a_duplicate_message_is_delivered_once(
    recorded_gateway: RecordingUpstream, invoke: Invoke, worker: Worker
) -> None:
    accepted = invoke("update_customer_session_v2", queued("update_customer_session_v2"))
    delivery_id = body_json(accepted)["deliveryId"]
    worker()
    # When the same delivery arrives again (a message delivered twice)
    sqs().send_message(
        QueueUrl=URLS["DeliveryQueue"],
        MessageBody=json.dumps({"deliveryId": delivery_id}),
        MessageGroupId="g",
        MessageDeduplicationId="again",
    )
    worker()
    # Then Talon.One got it once
    assert len(recorded_gateway.requests) == 1


# -- read ---------------------------------------------------------------------------------------


def test_a_delivery_is_readable_only_within_the_original_operations_scope(
    invoke: Invoke, queues: None, moto_endpoint: str
) -> None:
    other = "scoped-reader-token-0123456789abcdef0"
    writer = "scoped-writer-token-0123456789abcdef0"
    aws.set_inbound_secrets(
        moto_endpoint,
        aws.inbound_secrets(
            bearerTokens=[
                aws.BEARER_TOKEN,
                {"token": other, "operations": ["trackEventV2"]},
                {"token": writer, "operations": ["updateCustomerSessionV2"]},
            ]
        ),
    )
    try:
        accepted = invoke("update_customer_session_v2", queued("update_customer_session_v2"))
        location = header(accepted, "Location") or ""
        # A token scoped to the queued operation reads it (getDelivery need not be named)...
        assert read(invoke, location, writer)["statusCode"] == 200
        # ...one scoped to another operation does not; an unscoped one does
        refused = read(invoke, location, other)
        assert refused["statusCode"] == 403
        assert "updateCustomerSessionV2" in body_json(refused)["message"]
        assert read(invoke, location)["statusCode"] == 200
    finally:
        aws.set_inbound_secrets(moto_endpoint, aws.inbound_secrets())


def test_an_unknown_delivery_is_a_404(invoke: Invoke, queues: None) -> None:
    response = read(invoke, "/deliveries/dlv_" + "0" * 32)
    assert response["statusCode"] == 404
    assert body_json(response)["StatusCode"] == 404


# -- erasure ------------------------------------------------------------------------------------


def profile_event(function: str, customer: str) -> dict[str, Any]:
    event = load_event(function)
    event["pathParameters"] = {"integrationId": customer}
    event["path"] = event["path"].replace("jane.doe%2Bshop%40example.com", customer)
    return event


def test_an_erasure_removes_the_customers_queued_writes(
    recorded_gateway: RecordingUpstream, invoke: Invoke, worker: Worker
) -> None:
    # Given a queued (not yet delivered) profile update holding the customer's data
    customer = "queued-erasure-1"
    body = '{"attributes":{"Name":"Quentin Queued","City":"Braga"}}'
    event = with_headers(profile_event("update_customer_profile_v2", customer), Prefer="respond-async")
    event["body"] = body
    accepted = invoke("update_customer_profile_v2", event)
    assert accepted["statusCode"] == 202

    # When the customer is erased (synchronously)
    recorded_gateway.answer(204, b"", content_type=None)
    assert (
        invoke("delete_customer_data", profile_event("delete_customer_data", customer))["statusCode"] == 204
    )

    # Then the queued write is gone with its data: its message, still queued, names the customer
    # nowhere (a delivery id, and a hash of the entity as its group)...
    (queued_message,) = messages()
    assert not any(text in json.dumps(queued_message) for text in (customer, "Quentin", "Braga"))
    # ...the worker drops it, Talon.One never gets it
    assert read(invoke, header(accepted, "Location") or "")["statusCode"] == 404
    worker()
    assert [r.method for r in recorded_gateway.requests] == ["DELETE"]


def test_a_queued_erasure_erases_and_keeps_no_id(
    recorded_gateway: RecordingUpstream, invoke: Invoke, worker: Worker, moto_endpoint: str
) -> None:
    # Given an erasure accepted for asynchronous delivery
    customer = "queued-erasure-2"
    recorded_gateway.default = Answer(204, b"", {})
    event = with_headers(profile_event("delete_customer_data", customer), Prefer="respond-async")
    accepted = invoke("delete_customer_data", event)
    assert accepted["statusCode"] == 202

    # When the worker delivers it
    assert worker()["batchItemFailures"] == []

    # Then Talon.One erased the customer, and the delivery's record keeps its outcome, not the id
    assert recorded_gateway.requests[0].method == "DELETE"
    outcome = body_json(read(invoke, header(accepted, "Location") or ""))
    assert (outcome["state"], outcome["talonStatus"]) == ("delivered", 204)
    dynamodb = aws_resources.client("dynamodb", moto_endpoint, aws.REGION)
    items = dynamodb.scan(TableName=aws.STATE_TABLE)["Items"]
    assert customer not in json.dumps(items)


def test_two_dead_deliveries_sharing_a_deduplication_id_both_reach_the_dead_letter_queue(
    queues: None,
) -> None:
    # Given two messages of two deliveries with one MessageDeduplicationId (the delivery queue's
    # id is per operation and key: a key reused after its record expired, on another entity)
    shared = {"MessageGroupId": "g", "MessageDeduplicationId": "same-operation-and-key"}
    records = [
        SQSRecord(
            sqs_event(
                [
                    {
                        "MessageId": f"message-{n}",
                        "ReceiptHandle": f"receipt-{n}",
                        "Body": json.dumps({"deliveryId": f"dlv_{n:032x}"}),
                        "Attributes": shared,
                    }
                ],
                "arn:aws:sqs:eu-west-1:123456789012:q",
            )["Records"][0]
        )
        for n in (1, 2)
    ]

    # When both die within the dead-letter queue's 5-minute deduplication window, one twice
    for record in (*records, records[0]):
        delivery_worker._dead_letter(record)

    # Then both are there, once each: nothing deduplicated away, nothing doubled
    bodies = sorted(json.loads(m["Body"])["deliveryId"] for m in messages("DeadLetterQueue"))
    assert bodies == [f"dlv_{1:032x}", f"dlv_{2:032x}"]
