"""The gateway's own storage never makes a processed write run twice, and erasure leaves nothing.

Faults are injected between the functions and moto by a proxy (tests/support/faulty_aws.py);
Talon.One is a recording server that counts its executions.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from local_gateway import aws_resources
from tests.conftest import Invoke, body_json, header, load_event
from tests.support import aws, log_tap
from tests.support.faulty_aws import FaultyAws
from tests.support.upstream import Answer, RecordingUpstream

UPDATE_ITEM = "DynamoDB_20120810.UpdateItem"
DELETE_ITEM = "DynamoDB_20120810.DeleteItem"
BATCH_WRITE = "DynamoDB_20120810.BatchWriteItem"


@pytest.fixture
def faulty(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultyAws]:
    with FaultyAws(moto_endpoint) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        yield proxy


def keyed(function: str, key: str, *, path: dict[str, str] | None = None) -> dict[str, Any]:
    event = load_event(function)
    event["headers"]["Idempotency-Key"] = key
    event["multiValueHeaders"]["Idempotency-Key"] = [key]
    if path is not None:
        (name,) = event["pathParameters"]
        value = path[name]
        event["pathParameters"] = {name: value}
        event["path"] = event["path"].rsplit("/", 1)[0] + "/" + value
    return event


def session_answer(size: int, *, random_bytes: bool = False) -> bytes:
    """A Talon.One answer of about ``size`` bytes, compressible or not."""
    filler = base64.b64encode(secrets.token_bytes(size * 3 // 4)).decode() if random_bytes else "x" * size
    return json.dumps({"effects": [], "customerSession": {"attributes": {"note": filler}}}).encode()


def metrics_logged(output: str) -> set[str]:
    return {
        metric["Name"]
        for record in log_tap.records(output)
        if "_aws" in record
        for metric in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }


def stored_items(table: str) -> list[dict[str, Any]]:
    dynamodb = aws_resources.client("dynamodb", os.environ["AWS_ENDPOINT_URL"], aws.REGION)
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = dynamodb.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def stored_objects() -> dict[str, bytes]:
    s3 = aws_resources.client("s3", os.environ["AWS_ENDPOINT_URL"], aws.REGION)
    objects: dict[str, bytes] = {}
    for entry in s3.list_objects_v2(Bucket=aws.BUCKET).get("Contents", []):
        raw = s3.get_object(Bucket=aws.BUCKET, Key=entry["Key"])["Body"].read()
        with contextlib.suppress(zlib.error):
            raw = zlib.decompress(raw)
        objects[entry["Key"]] = raw
    return objects


def everything_stored() -> str:
    """Every table item and every object, as text (compressed record data expanded)."""
    texts: list[str] = []
    for table in (aws.IDEMPOTENCY_TABLE, aws.STATE_TABLE):
        for item in stored_items(table):
            for value in item.values():
                text = value.get("S", "")
                if text.startswith("z:"):
                    text = zlib.decompress(base64.b64decode(text[2:])).decode()
                texts.append(text)
    texts.extend(raw.decode(errors="replace") for raw in stored_objects().values())
    return "\n".join(texts)


# -- 5a: answers too large for one item ----------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "random_bytes", "where"),
    [
        pytest.param(600_000, False, "compressed", id="600KB-compressible"),
        pytest.param(900_000, True, "s3", id="900KB-incompressible"),
    ],
)
def test_an_answer_too_large_for_an_item_is_kept_and_replayed(
    size: int,
    random_bytes: bool,
    where: str,
    recorded_gateway: RecordingUpstream,
    invoke: Invoke,
    faulty: FaultyAws,
) -> None:
    # Given Talon.One answers a keyed write with more than DynamoDB's 400 KB item limit
    answer = session_answer(size, random_bytes=random_bytes)
    recorded_gateway.default = Answer(200, answer)
    key = f"large-{where}-{secrets.token_hex(4)}"

    # When the write is sent, then retried with the same key
    first = invoke("update_customer_session_v2", keyed("update_customer_session_v2", key))
    retry = invoke("update_customer_session_v2", keyed("update_customer_session_v2", key))

    # Then both got Talon.One's answer byte for byte, the retry from the record: one execution
    assert (first["statusCode"], retry["statusCode"]) == (200, 200)
    assert first["body"].encode() == retry["body"].encode() == answer
    assert header(retry, "Idempotent-Replayed") == "true"
    assert len(recorded_gateway.requests) == 1
    # and the answer sits where its size puts it
    overflow = [k for k in stored_objects() if k.startswith("answers/")]
    assert bool(overflow) == (where == "s3")


# -- 5b: DynamoDB failing after Talon.One answered -----------------------------------------------


def test_a_completion_that_fails_is_retried_and_the_answer_still_returned(
    recorded_gateway: RecordingUpstream,
    invoke: Invoke,
    faulty: FaultyAws,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given DynamoDB refuses the completion of the record (every attempt) once Talon.One answered
    recorded_gateway.default = Answer(200, b'{"effects":[]}')
    faulty.fail(UPDATE_ITEM, count=1000)
    capsys.readouterr()

    # When a keyed write is sent
    response = invoke("update_customer_session_v2", keyed("update_customer_session_v2", "completion-down"))
    logged = capsys.readouterr().out

    # Then the caller gets Talon.One's answer, not a 503
    assert response["statusCode"] == 200
    assert response["body"] == '{"effects":[]}'
    # and the completion was attempted several times, then counted and logged
    assert faulty.failed[UPDATE_ITEM] >= 3
    assert "IdempotencyCompletionFailed" in metrics_logged(logged)
    assert "idempotency record not completed" in logged

    # When the caller retries while the record is still in progress
    faulty.rules.clear()
    retry = invoke("update_customer_session_v2", keyed("update_customer_session_v2", "completion-down"))

    # Then it is told to wait, and Talon.One executed the write once
    assert retry["statusCode"] == 409
    assert len(recorded_gateway.requests) == 1


@pytest.mark.parametrize("action", [UPDATE_ITEM, BATCH_WRITE])
def test_a_completion_that_fails_twice_is_stored_on_the_third_attempt(
    action: str, recorded_gateway: RecordingUpstream, invoke: Invoke, faulty: FaultyAws
) -> None:
    # Given the record's completion (or the erasure index written with it) fails twice
    recorded_gateway.default = Answer(200, b'{"customerSession":{"profileId":"c-42"}}')
    faulty.fail(action, count=2)
    key = f"completion-flaky-{action}"

    # When a keyed write is sent and then retried
    first = invoke("update_customer_session_v2", keyed("update_customer_session_v2", key))
    retry = invoke("update_customer_session_v2", keyed("update_customer_session_v2", key))

    # Then the record was completed after all: the retry is a replay, Talon.One executed once
    assert (first["statusCode"], retry["statusCode"]) == (200, 200)
    assert header(retry, "Idempotent-Replayed") == "true"
    assert len(recorded_gateway.requests) == 1


def test_a_release_that_fails_keeps_talon_ones_refusal(
    recorded_gateway: RecordingUpstream, invoke: Invoke, faulty: FaultyAws
) -> None:
    # Given Talon.One refuses the write and DynamoDB then fails to release the record
    recorded_gateway.default = Answer(400, b'{"message":"Invalid session"}')
    faulty.fail(DELETE_ITEM, count=1000)

    # When a keyed write is sent
    response = invoke("update_customer_session_v2", keyed("update_customer_session_v2", "release-down"))

    # Then the caller sees Talon.One's refusal, not a 503
    assert response["statusCode"] == 400
    assert body_json(response) == {"message": "Invalid session"}


def test_the_store_failing_before_talon_one_is_a_503_and_nothing_is_sent(
    recorded_gateway: RecordingUpstream, invoke: Invoke, faulty: FaultyAws
) -> None:
    faulty.fail("DynamoDB_20120810.PutItem", count=1000)
    response = invoke("update_customer_session_v2", keyed("update_customer_session_v2", "store-down"))
    assert response["statusCode"] == 503
    assert header(response, "Retry-After") is not None
    assert recorded_gateway.requests == []


# -- 6: erasure leaves nothing ---------------------------------------------------------------------

JANE = "jane.erasure@example.com"
JANE_NAME = "Jane Q. Erasure"
JANE_STREET = "Rua das Flores 77"
BOB = "bob.keeps@example.com"
log_tap.register(JANE, JANE_NAME, JANE_STREET, BOB, "Bob Keeps")


def profile_answer(customer: str, session: str | None, *attributes: str) -> bytes:
    answer: dict[str, Any] = {
        "effects": [],
        "customerProfile": {
            "integrationId": customer,
            "attributes": {"name": attributes[0], "street": attributes[1]},
        },
    }
    if session is not None:
        answer["customerSession"] = {"integrationId": session, "profileId": customer}
    return json.dumps(answer).encode()


def test_erasure_removes_the_customer_from_every_store(
    recorded_gateway: RecordingUpstream, invoke: Invoke, faulty: FaultyAws
) -> None:
    def write(function: str, key: str, path: str, answer: bytes) -> dict[str, Any]:
        recorded_gateway.answers.append(Answer(200, answer))
        event = keyed(function, key, path={"customerSessionId": path, "integrationId": path})
        response = invoke(function, event)
        assert response["statusCode"] == 200, response["body"]
        return response

    # Given the gateway stored answers about Jane: sessions (one first seen anonymously), her
    # profile, and an answer large enough to go to S3; and one about Bob
    anonymous = json.dumps(
        {
            "effects": [],
            "customerSession": {"integrationId": "cart-anon", "attributes": {"gift": JANE_STREET}},
        }
    ).encode()
    write("update_customer_session_v2", "jane-1", "cart-anon", anonymous)
    write(
        "update_customer_session_v2",
        "jane-2",
        "cart-anon",
        profile_answer(JANE, "cart-anon", JANE_NAME, JANE_STREET),
    )
    write(
        "update_customer_session_v2",
        "jane-3",
        "cart-jane",
        profile_answer(JANE, "cart-jane", JANE_NAME, JANE_STREET),
    )
    write("update_customer_profile", "jane-4", JANE, profile_answer(JANE, None, JANE_NAME, JANE_STREET))
    large = json.loads(profile_answer(JANE, "cart-big", JANE_NAME, JANE_STREET))
    large["customerSession"]["attributes"] = {"blob": base64.b64encode(secrets.token_bytes(700_000)).decode()}
    write("update_customer_session_v2", "jane-5", "cart-big", json.dumps(large).encode())
    write(
        "update_customer_session_v2",
        "bob-1",
        "cart-bob",
        profile_answer(BOB, "cart-bob", "Bob Keeps", "Bob Street 1"),
    )
    before = everything_stored()
    for value in (JANE_NAME, JANE_STREET, "Bob Keeps"):
        assert value in before
    assert any(JANE_NAME.encode() in raw for raw in stored_objects().values())

    # When Jane's data is deleted
    recorded_gateway.answers.append(Answer(204, b"", {}))
    event = load_event("delete_customer_data")
    event["pathParameters"] = {"integrationId": JANE}
    event["path"] = "/v1/customer_data/" + JANE.replace("@", "%40")
    response = invoke("delete_customer_data", event)

    # Then Talon.One erased her, and nothing the gateway stores still holds her data or her id
    assert response["statusCode"] == 204
    after = everything_stored()
    for value in (JANE, JANE_NAME, JANE_STREET):
        assert value not in after
    assert not any(JANE_NAME.encode() in raw for raw in stored_objects().values())
    # while Bob's answer is still there (nothing more was erased)
    assert "Bob Keeps" in after
    replay = invoke(
        "update_customer_session_v2",
        keyed("update_customer_session_v2", "bob-1", path={"customerSessionId": "cart-bob"}),
    )
    assert header(replay, "Idempotent-Replayed") == "true"


def test_erasure_refuses_when_the_stores_cannot_be_reached(
    recorded_gateway: RecordingUpstream, invoke: Invoke, faulty: FaultyAws
) -> None:
    # Given the index cannot be read
    faulty.fail("DynamoDB_20120810.Query", count=1000)

    # When an erasure is asked
    response = invoke("delete_customer_data", load_event("delete_customer_data"))

    # Then it is refused before Talon.One is asked: the retry will find everything still to do
    assert response["statusCode"] == 503
    assert recorded_gateway.requests == []
