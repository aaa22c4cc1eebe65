"""Lambda's SQS event source, locally: poll the queue, invoke the consumer, apply its answer.

As the managed event source does: batches of up to ``BatchSize`` messages (long polling), the
function invoked with the SQS event (attributes, message attributes, receive count), the
messages it reports in ``batchItemFailures`` left to the queue (visible again after their
visibility timeout: the worker sets the backoff), the others deleted; up to
``MaximumConcurrency`` batches at once. The queue itself (moto) redrives a message to the
dead-letter queue after ``maxReceiveCount`` receives. One line per delivery goes to ``report``.
Unlike the managed event source, it polls briefly and often instead of long-polling.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from local_gateway.runtime import Runtime
from local_gateway.template import QueueConsumer

REGION = "eu-west-1"
POLL_INTERVAL = 0.1  # seconds between polls of an empty queue


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source sends for a batch (the shape Powertools reads)."""
    records = []
    for message in messages:
        attributes = message.get("Attributes", {})
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": attributes.get("SentTimestamp", "0"),
                    "SenderId": attributes.get("SenderId", "local"),
                    "ApproximateFirstReceiveTimestamp": attributes.get(
                        "ApproximateFirstReceiveTimestamp", "0"
                    ),
                    "SequenceNumber": attributes.get("SequenceNumber", "0"),
                    "MessageGroupId": attributes.get("MessageGroupId", ""),
                    "MessageDeduplicationId": attributes.get("MessageDeduplicationId", ""),
                },
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": None,
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


class EventSource:
    """Feeds one queue to its consumer function through the local execution environments."""

    def __init__(
        self,
        consumer: QueueConsumer,
        queue_url: str,
        runtime: Runtime,
        client: Any,
        report: Callable[[list[dict[str, Any]], dict[str, Any]], None] | None = None,
    ) -> None:
        self.consumer = consumer
        self.queue_url = queue_url
        self.runtime = runtime
        self.sqs = client
        self.report = report
        self.queue_arn = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._poll, name=f"event-source-{n}", daemon=True)
            for n in range(max(1, min(consumer.maximum_concurrency, 2)))
        ]
        self.batches = 0

    def start(self) -> EventSource:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _poll(self) -> None:
        while not self._stopping.is_set():
            try:
                answer = self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=self.consumer.batch_size,
                    # Short polls: the emulation serves one request at a time, and a long poll
                    # would hold every function's AWS calls behind it.
                    WaitTimeSeconds=0,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
            except Exception:  # noqa: BLE001 - the emulation stopping under us, or a hiccup: poll again
                time.sleep(0.2)
                continue
            messages = answer.get("Messages", [])
            if messages:
                self._deliver(messages)
            else:
                self._stopping.wait(POLL_INTERVAL)

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        try:
            result = self.runtime.invoke(
                self.consumer.spec,
                sqs_event(messages, self.queue_arn),
                timeout=self.consumer.spec.timeout + 5,
            )
        except Exception:  # noqa: BLE001 - a crashed invocation: every message comes back
            result = {"batchItemFailures": [{"itemIdentifier": m["MessageId"]} for m in messages]}
        self.batches += 1
        failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)],
            )
        if self.report is not None:
            self.report(messages, result)
