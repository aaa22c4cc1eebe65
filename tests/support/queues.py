"""The delivery queues of one test, and the worker polling them as Lambda's event source does.

Fixtures (registered for every test module by tests/conftest.py): ``queues`` creates fresh
FIFO queues from template.yaml (moto's PurgeQueue allows one purge a minute, so each test gets
its own), ``worker`` is one poll of the delivery queue by the worker function.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from local_gateway import aws_resources
from local_gateway.event_source import sqs_event
from local_gateway.functions import LambdaContext, load_module
from local_gateway.template import ROOT
from tests.support import aws
from tests.support.upstream import RecordingUpstream

Worker = Callable[[], dict[str, Any]]


def sqs() -> Any:
    return aws_resources.client("sqs", os.environ["AWS_ENDPOINT_URL"], aws.REGION)


def messages(queue: str = "DeliveryQueue") -> list[dict[str, Any]]:
    """What the queue holds now (received and put back at once)."""
    url = URLS[queue]
    found: list[dict[str, Any]] = (
        sqs()
        .receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        )
        .get("Messages", [])
    )
    for message in found:
        sqs().change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return found


URLS: dict[str, str] = {}


@pytest.fixture
def queues(recorded_gateway: RecordingUpstream, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fresh queues for each test (template.yaml's, with the test deployment's parameters)."""
    suffix = uuid.uuid4().hex[:12]
    names = {logical_id: f"{suffix}-{name}" for logical_id, name in aws.QUEUES.items()}
    URLS.clear()
    URLS.update(aws_resources.create_queues(moto_endpoint, aws.REGION, names, aws.DELIVERY_PARAMETERS))
    monkeypatch.setenv("DELIVERY_QUEUE_URL", URLS["DeliveryQueue"])
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", URLS["DeadLetterQueue"])


@pytest.fixture
def worker(recorded_gateway: RecordingUpstream, queues: None) -> Worker:
    """One poll of the queue by the worker function, as Lambda's event source does it."""
    handler = load_module(ROOT / "functions" / "delivery_worker").lambda_handler

    def poll() -> dict[str, Any]:
        url = URLS["DeliveryQueue"]
        batch = (
            sqs()
            .receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
            )
            .get("Messages", [])
        )
        if not batch:
            return {"batchItemFailures": [], "messages": 0}
        result: dict[str, Any] = handler(
            sqs_event(batch, "arn:aws:sqs:eu-west-1:123456789012:q"), LambdaContext()
        )
        failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
        for message in batch:
            if message["MessageId"] not in failed:
                sqs().delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return result | {"messages": len(batch)}

    return poll
