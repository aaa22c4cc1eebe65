"""Dequeue → Talon.One: the worker delivers each queued write through the synchronous path's
upstream client, signing and retry policy, and records how it went.

One message, one delivery (its record in deliveries.py):
- delivered (2xx): the record keeps Talon.One's status and body, forgets the request's body;
- transient failure (Talon.One's 5xx, a timeout, 409 — another write of the entity still in
  flight —, 429, 401/403 — a rotated key must not dead-letter a backlog —, the gateway's own
  secrets or configuration failing): the record says ``failed``, the message goes back to the
  queue, visible again after an exponential backoff (2, 4, 8 … seconds, capped by
  MAX_BACKOFF_SECONDS, Retry-After honoured); the MAX_RECEIVE_COUNT-th attempt (the record
  counts them: a receive that was skipped is not an attempt) sends it to the dead-letter
  queue and marks the record ``dead``;
- permanent failure (Talon.One's other 4xx: asking again cannot help): the record says
  ``dead`` with Talon.One's answer, and the message goes to the dead-letter queue at once.
Messages whose record is gone (erased with its customer, or expired) are dropped, counted.
Shopify webhooks are jobs of their own (shopify.py): the same failure handling, plus
``dropped`` for what arrived too late, and a refund of an order not yet known retried.

Powertools' ``SqsFifoPartialProcessor`` with ``skip_group_on_error`` reports the failing
message and the rest of its group in the batch as failures (they return in order) while the
other groups' messages are delivered: a poison message never blocks another entity. The
skipped followers get the failing message's backoff too (else they would stay in flight for
the queue's visibility timeout, and hold their group that long). An entity's later writes keep
flowing once an earlier one is dead-lettered: session and profile updates are cumulative, and
the dead one is reported (``make dlq``). A message is sent to the dead-letter queue before its
record says ``dead``: a message whose record already does is sent there again, never dropped.
The queue's own redrive, at 1,000 receives, is the net for messages no attempt ever settles: a
message is received at most BatchSize x MaxReceiveCount times (500) while attempts are made
on it or skipped behind others of its group.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from talon_gateway.config import get_settings
from talon_gateway.delivery import aws, deliveries, erasure, shopify
from talon_gateway.errors import InvalidRequest, UpstreamError, UpstreamRejected
from talon_gateway.observability import MetricUnit, logger, metrics
from talon_gateway.operations import BY_NAME
from talon_gateway.upstream import policy as upstream

# Talon.One's 4xx that a later attempt can fix; every other 4xx is final.
TRANSIENT_REJECTIONS = frozenset({401, 403, 409, 429})
FIRST_BACKOFF_SECONDS = 2.0


class _Retry(Exception):
    """Hand the message back to the queue (a transient failure)."""


def backoff(attempt: int, retry_after: float | None = None) -> int:
    """Seconds until the message is visible again: exponential with jitter, capped."""
    ceiling = get_settings().max_backoff_seconds
    base = FIRST_BACKOFF_SECONDS * 2 ** max(0, attempt - 1)
    delay = random.uniform(base / 2, base)  # noqa: S311 - jitter, not a secret
    return int(min(ceiling, max(delay, retry_after or 0.0, 1.0)))


def _dead_letter(record: SQSRecord) -> None:
    url = get_settings().dead_letter_queue_url
    if url is None:
        raise _Retry("DEAD_LETTER_QUEUE_URL is not set")
    attributes = record.attributes
    aws.client("sqs").send_message(
        QueueUrl=url,
        MessageBody=record.body,
        MessageGroupId=attributes.message_group_id,
        # Per message, not the delivery queue's id: that one is per operation and key (unique
        # in its group there), and the dead-letter queue deduplicates across the queue: two
        # deliveries sharing it, dead within 5 minutes, would lose the second. The same message
        # sent twice (a failed move retried) is still one.
        MessageDeduplicationId=hashlib.sha256(f"dead#{record.message_id}".encode()).hexdigest(),
        MessageAttributes={
            name: {"DataType": value["dataType"], "StringValue": value["stringValue"]}
            for name, value in record.raw_event.get("messageAttributes", {}).items()
            if "stringValue" in value
        },
    )


def _bury(
    record: SQSRecord,
    delivery_id: str,
    *,
    attempts: int,
    talon_status: int | None = None,
    talon_body: str | None = None,
    last_error: str | None = None,
) -> None:
    """Move a delivery to the dead-letter queue, then mark its record dead: in that order, so
    that a failure in between leaves a message that is moved again, never a lost one."""
    _dead_letter(record)
    deliveries.settle(
        delivery_id,
        "dead",
        attempts=attempts,
        talon_status=talon_status,
        talon_body=talon_body,
        last_error=last_error,
    )
    metrics.add_metric("DeliveriesDeadLettered", MetricUnit.Count, 1)


@dataclass
class _Batch:
    """What the current batch's failures were held for, per message and per group."""

    held: dict[str, int] = field(default_factory=dict)  # message id -> seconds
    by_group: dict[str, int] = field(default_factory=dict)  # message group -> seconds


_batch = _Batch()


def _hold(record: SQSRecord, seconds: int) -> None:
    """Keep the message invisible for ``seconds`` (its group waits: FIFO)."""
    _batch.held[record.message_id] = seconds
    group = record.attributes.message_group_id or ""
    _batch.by_group[group] = max(_batch.by_group.get(group, 0), seconds)
    url = get_settings().delivery_queue_url
    if url is None:
        return
    try:
        aws.client("sqs").change_message_visibility(
            QueueUrl=url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=seconds
        )
    except Exception as exc:  # noqa: BLE001 - the queue's own visibility timeout applies instead
        logger.warning("backoff not set", extra={"error": type(exc).__name__})


def _attempt(request: deliveries.Request, delivery_id: str, context: LambdaContext) -> shopify.Attempted:
    """One attempt at a queued write (an API request's, or a Shopify job's)."""
    deadline = upstream.Deadline.within(context.get_remaining_time_in_millis())
    if request.operation.startswith(shopify.OPERATION_PREFIX):
        return shopify.attempt(request, delivery_id, deadline)
    operation = BY_NAME[request.operation]
    erased = request.path_values.get(operation.erases) if operation.erases else None
    if erased is not None:
        erasure.erase_for(erased, before=True)
    answer = upstream.call(
        operation,
        path_values=request.path_values,
        deadline=deadline,
        query=request.query,
        body=request.body,
        # Without the caller's key, the delivery's own: a repeated attempt is recognisable.
        idempotency_key=request.idempotency_key or delivery_id,
        application=request.application,
    )
    if erased is not None:
        erasure.erase_for(erased, before=False)
    return shopify.Attempted(
        "delivered",
        answer.status,
        answer.body.decode(),
        scrub=erased is not None,
        answer_path=dict(request.path_values),
    )


def deliver(record: SQSRecord, context: LambdaContext) -> None:
    """Deliver one queued write; raise to hand it back to the queue."""
    delivery_id = json.loads(record.body)["deliveryId"]
    stored = deliveries.read(delivery_id)
    if stored is None or stored.request is None:
        metrics.add_metric("DeliveriesDiscarded", MetricUnit.Count, 1)
        logger.info("delivery gone (erased or expired): dropped", extra={"delivery_id": delivery_id})
        return
    if stored.state == "dead":
        # Dead, yet still on the delivery queue: its move to the dead-letter queue did not
        # complete (the send, or the batch's delete, failed). Move it, never drop it.
        _dead_letter(record)
        metrics.add_metric("DeliveriesDeadLettered", MetricUnit.Count, 1)
        logger.warning("dead delivery still queued: moved", extra={"delivery_id": delivery_id})
        return
    if stored.state in ("delivered", "dropped"):
        metrics.add_metric("DeliveriesDuplicate", MetricUnit.Count, 1)
        logger.info("delivery already settled: duplicate message dropped", extra={"delivery_id": delivery_id})
        return
    request = stored.request
    # The record's count, not SQS's receive count: a follower skipped behind a failing message
    # of its group was received without being attempted.
    attempt_number = stored.attempts + 1
    outcome = _attempt_or_settle(record, request, delivery_id, attempt_number, context)
    if outcome is None:
        return
    settled = deliveries.settle(
        delivery_id,
        outcome.state,
        attempts=attempt_number,
        talon_status=outcome.talon_status,
        talon_body=outcome.talon_body,
        last_error=outcome.note,
        forget_request=True,
        scrub=outcome.scrub,
    )
    if settled and not outcome.scrub and outcome.talon_body:
        deliveries.index_answer(delivery_id, outcome.answer_path, outcome.talon_body)
    metrics.add_metric(
        "DeliveriesDelivered" if outcome.state == "delivered" else "DeliveriesDropped", MetricUnit.Count, 1
    )
    logger.info(
        outcome.state,
        extra={
            "delivery_id": delivery_id,
            "operation": request.operation,
            "status": outcome.talon_status,
            "attempt": attempt_number,
        },
    )


def _attempt_or_settle(
    record: SQSRecord,
    request: deliveries.Request,
    delivery_id: str,
    attempt_number: int,
    context: LambdaContext,
) -> shopify.Attempted | None:
    """The attempt's outcome, or None when a failure was dealt with (dead-lettered, or raised
    to hand the message back)."""
    try:
        return _attempt(request, delivery_id, context)
    except UpstreamRejected as exc:
        text = exc.body.decode(errors="replace")
        if exc.status in TRANSIENT_REJECTIONS:
            _fail(
                record,
                delivery_id,
                attempt_number,
                f"Talon.One answered {exc.status}",
                exc.retry_after,
                exc.status,
            )
            return None
        _bury(
            record,
            delivery_id,
            attempts=attempt_number,
            talon_status=exc.status,
            talon_body=text if _is_json(text) else None,
            last_error=f"Talon.One answered {exc.status}",
        )
        logger.warning(
            "delivery refused by Talon.One: dead-lettered",
            extra={"delivery_id": delivery_id, "operation": request.operation, "status": exc.status},
        )
    except UpstreamError as exc:
        _fail(record, delivery_id, attempt_number, type(exc).__name__, exc.retry_after, None)
    except InvalidRequest as exc:
        # A stored job that no longer maps (a Shopify payload refused by the mapping): final.
        _bury(record, delivery_id, attempts=attempt_number, last_error=type(exc).__name__)
        logger.warning("delivery cannot be mapped: dead-lettered", extra={"delivery_id": delivery_id})
    except Exception as exc:  # noqa: BLE001 - secrets, configuration, the stores: all worth a retry
        _fail(record, delivery_id, attempt_number, type(exc).__name__, None, None)
    return None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _fail(  # noqa: PLR0917 - an attempt's outcome, all of it
    record: SQSRecord,
    delivery_id: str,
    attempt: int,
    reason: str,
    retry_after: float | None,
    talon_status: int | None,
) -> None:
    """A transient failure: back to the queue after a backoff, or the last one: dead-lettered."""
    extra = {"delivery_id": delivery_id, "attempt": attempt, "reason": reason}
    if attempt >= get_settings().max_receive_count:
        _bury(record, delivery_id, attempts=attempt, talon_status=talon_status, last_error=reason)
        logger.warning("delivery failed for the last time: dead-lettered", extra=extra)
        return  # on the dead-letter queue: the batch deletes it from this one
    deliveries.settle(delivery_id, "failed", attempts=attempt, talon_status=talon_status, last_error=reason)
    metrics.add_metric("DeliveriesRetried", MetricUnit.Count, 1)
    logger.warning("delivery failed: retried later", extra=extra)
    _hold(record, backoff(attempt, retry_after))
    raise _Retry(reason)


processor = SqsFifoPartialProcessor(skip_group_on_error=True)
# A batch that fails as a whole is reported message by message too, not raised: raising would
# hand every message back after the queue's visibility timeout, ignoring each one's backoff.
processor.raise_on_entire_batch_failure = False


def _hold_the_rest(event: dict[str, Any], failures: list[Any]) -> None:
    """Give each failure its group's backoff when no attempt set one: the followers skipped
    behind a failing message, and a message whose attempt raised before deciding (a store
    failing). Without it they stay in flight for the queue's visibility timeout, holding their
    group that long, whatever the failing message's backoff."""
    failed = {item["itemIdentifier"] for item in failures}
    for raw in event.get("Records", []):
        record = SQSRecord(raw)
        if record.message_id not in failed or record.message_id in _batch.held:
            continue
        group = record.attributes.message_group_id or ""
        # No attempt decided (a store failing before or after it): back off by its receives,
        # so that an outage of the stores does not run through the redrive's count in minutes
        receives = int(record.attributes.approximate_receive_count or 1)
        _hold(record, _batch.by_group.get(group) or backoff(receives))


def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The batch: each message delivered in order; failures (and their groups' followers) reported."""
    _batch.held.clear()
    _batch.by_group.clear()
    response = process_partial_response(
        event=event,
        record_handler=lambda record: deliver(record, context),
        processor=processor,
        context=context,
    )
    failures = list(response["batchItemFailures"])
    _hold_the_rest(event, failures)
    return {"batchItemFailures": failures}
