"""Accept → enqueue: a write delivered asynchronously, through an SQS FIFO queue.

After authentication, validation and deduplication (the caller's key: a repeat answers the
same 202 and queues nothing), the request is recorded (deliveries.py) and a message naming it
is sent to the FIFO queue; the caller gets 202 with the delivery id only once SQS has the
message. If SQS cannot be reached the record is removed and the caller gets 503 with
Retry-After: never a 202 for something not stored.

- ``MessageGroupId``: the Talon.One entity the write touches (its session, else its profile,
  else the operation and its path), so that one entity's writes are delivered one at a time,
  in the order accepted, while different entities go in parallel;
- ``MessageDeduplicationId``: the caller's idempotency key (scoped by operation) or webhook id,
  else the delivery id.
Both are SHA-256 digests, always: SQS takes at most 128 characters of ASCII punctuation and
alphanumerics, where keys may hold 255 characters of any printable ASCII, and entity ids are
customers' ids (emails) that a queue's metadata should not carry in clear.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from talon_gateway.config import get_settings
from talon_gateway.delivery import aws, deliveries, erasure
from talon_gateway.errors import ConfigurationError, QueueUnavailable
from talon_gateway.observability import MetricUnit, logger, metrics
from talon_gateway.operation import Operation
from talon_gateway.upstream.credentials import DEFAULT_NAME

# Operations whose body names the session (events) or the profile they touch.
_SESSION_IN_BODY = ("sessionId", "connectedSessionId")
_PROFILE_OPERATIONS = ("updateCustomerProfileV2", "updateCustomerProfile")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def entity(operation: Operation, path_values: Mapping[str, str], document: Any) -> str:
    """The Talon.One entity a write touches, for ordering: its session, else its profile, else
    the operation and its path."""
    if "customerSessionId" in path_values:
        return f"session:{path_values['customerSessionId']}"
    body = document if isinstance(document, dict) else {}
    if operation.name.lower().startswith("trackevent"):
        for name in _SESSION_IN_BODY:
            if isinstance(body.get(name), str) and body[name]:
                return f"session:{body[name]}"
        if isinstance(body.get("profileId"), str) and body["profileId"]:
            return f"profile:{body['profileId']}"
    if operation.name in _PROFILE_OPERATIONS:
        return f"profile:{path_values['integrationId']}"
    values = "/".join(f"{k}={v}" for k, v in sorted(path_values.items()))
    return f"route:{operation.name}:{values}"


def accept(
    operation: Operation,
    *,
    path_values: Mapping[str, str],
    query: Sequence[tuple[str, str]],
    body: bytes | None,
    document: Any,
    idempotency_key: str | None,
    application: str | None = None,
) -> str:
    """Record the write and queue it; its delivery id, or ``QueueUnavailable``."""
    group = group_of(application, entity(operation, path_values, document))
    request = deliveries.Request(
        operation.name, dict(path_values), list(query), body, idempotency_key, group, application
    )
    scope = operation.name if application in (None, DEFAULT_NAME) else f"{operation.name}@{application}"
    return enqueue(
        request,
        dedup=digest(f"{scope}#{idempotency_key}") if idempotency_key else None,
        # An erasure's own record is not indexed: it would erase itself (it is scrubbed instead).
        index=operation.erases is None,
    )


def group_of(application: str | None, entity_name: str) -> str:
    """The message group of an entity: one per application (two applications' session ids are
    different sessions)."""
    return digest(entity_name if application in (None, DEFAULT_NAME) else f"{application}/{entity_name}")


def enqueue(
    request: deliveries.Request,
    *,
    dedup: str | None,
    index: bool | erasure.Mentions,
    attributes: Mapping[str, str] | None = None,
) -> str:
    """Record ``request`` and send its message (deduplicated by ``dedup``, else by its id);
    the delivery id, or ``QueueUnavailable`` with nothing left behind."""
    settings = get_settings()
    if settings.delivery_queue_url is None:
        raise ConfigurationError("DELIVERY_QUEUE_URL is not set: asynchronous delivery is not deployed")
    delivery_id = deliveries.new_id()
    try:
        deliveries.create(delivery_id, request, index=index)
    except Exception as exc:  # noqa: BLE001 - nothing stored yet: the caller retries
        logger.error("delivery record not written", extra={"error": type(exc).__name__})
        raise QueueUnavailable(type(exc).__name__) from None
    message_attributes = {"operation": request.operation} | dict(attributes or {})
    try:
        aws.client("sqs").send_message(
            QueueUrl=settings.delivery_queue_url,
            MessageBody=json.dumps({"deliveryId": delivery_id}),
            MessageGroupId=request.group,
            MessageDeduplicationId=dedup or digest(delivery_id),
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value}
                for name, value in message_attributes.items()
            },
        )
    except Exception as exc:  # noqa: BLE001 - not queued: say so, and leave nothing behind
        logger.error("delivery not queued", extra={"error": type(exc).__name__})
        try:
            deliveries.delete(delivery_id)
        except Exception:  # noqa: BLE001 - an orphan record expires with its TTL; nobody knows its id
            logger.warning("unqueued delivery record left to expire")
        raise QueueUnavailable(type(exc).__name__) from None
    metrics.add_metric("DeliveriesAccepted", MetricUnit.Count, 1)
    return delivery_id
