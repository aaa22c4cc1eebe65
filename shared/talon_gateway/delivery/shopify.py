"""Shopify webhooks as queued deliveries: what the intake stores, what the worker does with it.

The intake (api/shopify.py) verifies, maps (sources/shopify) and queues a *job*: the Talon.One
write the webhook becomes, or for a refund the refund's ids and quantities (its order's record
is looked up when it is delivered), or an erasure or a data export. A job holds identifiers,
cart items and coupon codes, never the payload itself: Shopify's orders and customers carry
names, emails, phones and addresses that the gateway has no use for and does not keep.

The worker (worker.py) hands a job here. Per application (shop), the state table keeps

    pk = shopify#<app>#session#<sha256 of the session id>   appliedAt, state    (late webhooks)
    pk = shopify#<app>#profile#<sha256 of the customer id>  appliedAt
    pk = shopify#<app>#order#<order id>                      the OrderRecord     (refunds)
    pk = shopify#<app>#refund#<sha256 of its key>            a refund returned   (replays)
    pk = shopify#<app>#erased#<sha256 of the customer id>    a redacted customer (late writes)

for SHOPIFY_RECORD_TTL_SECONDS, each indexed for erasure under the customer and session it
names (the tombstone excepted: it must outlive the erasure). One entity's jobs share a message
group and are delivered one at a time, in order, so these records are read and written without
races. A write is sent before its records are written, in one transaction that holds only while
the delivery's own record exists (a redact erases it): a crash in between sends the write again
on retry, which is harmless (session and profile updates set state; a return carries its
idempotency key). A write naming a redacted customer is dropped; one already on its way to
Talon.One when the redact lands (milliseconds) records nothing afterwards.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from talon_gateway.config import get_settings
from talon_gateway.delivery import aws, deliveries, erasure
from talon_gateway.errors import ConfigurationError, UpstreamRejected
from talon_gateway.observability import MetricUnit, logger, metrics
from talon_gateway.operations import BY_NAME
from talon_gateway.sources import shopify
from talon_gateway.upstream import policy as upstream
from talon_gateway.upstream.credentials import DEFAULT_NAME
from talon_gateway.upstream.transport import UpstreamResponse

OPERATION_PREFIX = "shopify:"  # a Shopify job's record names its topic: shopify:orders/paid
JobKind = Literal["write", "refund", "erase", "export"]
Settled = Literal["delivered", "dropped"]
EXPORT_PREFIX = "exports/"


class OrderNotYetKnown(Exception):
    """A refund of an order whose record is not stored yet: retried (the order's webhook may
    still be on its way), dead-lettered after MAX_RECEIVE_COUNT attempts."""


# Jobs


@dataclass(frozen=True, slots=True)
class Job:
    webhook: shopify.ShopifyWebhook
    kind: JobKind
    write: shopify.Write | None = None
    remember: shopify.OrderRecord | None = None
    refund: dict[str, Any] | None = field(default=None, repr=False)  # ids and quantities only
    customer_id: str | None = None
    order_ids: tuple[str, ...] = ()
    read: shopify.Read | None = None
    data_request_id: str | None = None

    @property
    def entity(self) -> str:
        """The ordering key: the write's session or profile, a refund's order, a customer."""
        if self.write is not None:
            return self.write.entity
        if self.refund is not None:
            return f"order:{self.refund['order_id']}"
        return f"profile:{self.customer_id}"

    def mentions(self) -> erasure.Mentions:
        """Who the queued record names, so that erasing them erases it."""
        found = erasure.Mentions()
        if self.write is not None:
            found = erasure.mentions_of(self.write.path, [self.write.body])
        if self.customer_id is not None:
            found.customers.add(self.customer_id)
        return found


def job_of(webhook: shopify.ShopifyWebhook, outcome: shopify.Outcome, payload: Any) -> Job:
    """The job of a mapped webhook (``Acknowledge`` is never queued)."""
    match outcome:
        case shopify.Deliver(write=write, remember=remember):
            return Job(webhook, "write", write=write, remember=remember)
        case shopify.UnknownOrder():
            return Job(webhook, "refund", refund=minimal_refund(payload))
        case shopify.Erase(customer_id=customer, write=write, order_ids=orders):
            return Job(webhook, "erase", write=write, customer_id=customer, order_ids=orders)
        case shopify.Export(customer_id=customer, read=read, order_ids=orders, data_request_id=request):
            return Job(
                webhook, "export", customer_id=customer, read=read, order_ids=orders, data_request_id=request
            )
    raise TypeError(f"{type(outcome).__name__} is not queued")


def minimal_refund(refund: dict[str, Any]) -> dict[str, Any]:
    """What mapping a refund needs (its lines' ids and quantities), nothing else: refunds also
    carry notes and transactions."""
    kept: dict[str, Any] = {"id": refund["id"], "order_id": refund["order_id"]}
    if "updated_at" in refund:
        kept["updated_at"] = refund["updated_at"]
    kept["refund_line_items"] = [
        {"line_item_id": line["line_item_id"], "quantity": line["quantity"]}
        for line in refund.get("refund_line_items", [])
    ]
    return kept


def _write_record(write: shopify.Write) -> dict[str, Any]:
    return {
        "operation": write.operation,
        "path": write.path,
        "query": write.query,
        "body": write.body,
        "entity": write.entity,
        "kind": write.kind,
        "updatedAt": None if write.updated_at is None else write.updated_at.isoformat(),
        "idempotencyKey": write.idempotency_key,
    }


def _write_from(record: dict[str, Any]) -> shopify.Write:
    updated = record["updatedAt"]
    return shopify.Write(
        operation=record["operation"],
        path=record["path"],
        query=record["query"],
        body=record["body"],
        entity=record["entity"],
        kind=record["kind"],
        updated_at=None if updated is None else datetime.fromisoformat(updated),
        idempotency_key=record["idempotencyKey"],
    )


def encode(job: Job) -> bytes:
    record: dict[str, Any] = {"webhook": job.webhook.as_record(), "kind": job.kind}
    if job.write is not None:
        record["write"] = _write_record(job.write)
    if job.remember is not None:
        record["remember"] = job.remember.as_record()
    if job.refund is not None:
        record["refund"] = job.refund
    if job.customer_id is not None:
        record["customerId"] = job.customer_id
        record["orderIds"] = list(job.order_ids)
    if job.read is not None:
        record["read"] = {"operation": job.read.operation, "path": job.read.path, "query": job.read.query}
        record["dataRequestId"] = job.data_request_id
    return json.dumps(record, separators=(",", ":")).encode()


def decode(body: bytes) -> Job:
    record = json.loads(body)
    read = record.get("read")
    customer = record.get("customerId")
    return Job(
        webhook=shopify.ShopifyWebhook.from_record(record["webhook"]),
        kind=record["kind"],
        write=_write_from(record["write"]) if "write" in record else None,
        remember=shopify.OrderRecord.from_record(record["remember"]) if "remember" in record else None,
        refund=record.get("refund"),
        customer_id=customer,
        order_ids=tuple(record.get("orderIds", ())),
        read=None
        if read is None
        else shopify.Read(read["operation"], read["path"], read["query"], f"profile:{customer}"),
        data_request_id=record.get("dataRequestId"),
    )


# The state table


def _table() -> str:
    table = get_settings().state_table
    if table is None:
        raise ConfigurationError("STATE_TABLE is not set: the Shopify source needs it")
    return table


def _pk(application: str | None, kind: str, identifier: str) -> dict[str, Any]:
    name = identifier if kind == "order" else erasure.digest(identifier)
    return {"pk": {"S": f"shopify#{application or DEFAULT_NAME}#{kind}#{name}"}, "sk": {"S": "-"}}


def _get(key: dict[str, Any]) -> dict[str, Any] | None:
    item: dict[str, Any] | None = (
        aws.client("dynamodb").get_item(TableName=_table(), Key=key, ConsistentRead=True).get("Item")
    )
    if item is None or int(item["expiration"]["N"]) < time.time():
        return None
    return item


def _expires() -> int:
    return int(time.time()) + get_settings().shopify_record_ttl_seconds


def _item(key: dict[str, Any], attributes: dict[str, Any], mentions: erasure.Mentions) -> dict[str, Any]:
    """A record to put, indexed for erasure first: a record that exists is always found."""
    expires = _expires()
    if mentions.customers or mentions.sessions:
        erasure.index(key["pk"]["S"], mentions, expires)
    return key | attributes | {"expiration": {"N": str(expires)}}


def _put_while_queued(delivery_id: str, items: list[dict[str, Any]]) -> bool:
    """Put ``items`` in one transaction, only while the delivery's record exists: a delivery
    erased meanwhile (its customer redacted) leaves nothing behind. False when it was erased."""
    table = _table()
    dynamodb: Any = aws.client("dynamodb")
    try:
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": f"delivery#{delivery_id}"}, "sk": {"S": "-"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                *({"Put": {"TableName": table, "Item": item}} for item in items),
            ]
        )
    except dynamodb.exceptions.TransactionCanceledException as exc:
        reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
        if reasons and reasons[0] == "ConditionalCheckFailed":
            return False
        raise
    return True


def _micros(instant: datetime) -> int:
    return int(instant.astimezone(UTC).timestamp() * 1_000_000)


@dataclass(frozen=True, slots=True)
class _EntityState:
    applied_at: datetime | None
    session_state: shopify.SessionState | None


def _state_of(application: str | None, entity: str) -> tuple[dict[str, Any], _EntityState]:
    kind, _, identifier = entity.partition(":")
    key = _pk(application, kind, identifier)
    item = _get(key)
    if item is None:
        return key, _EntityState(None, None)
    applied = item.get("appliedAt", {}).get("N")
    return key, _EntityState(
        None if applied is None else datetime.fromtimestamp(int(applied) / 1_000_000, UTC),
        item.get("state", {}).get("S"),
    )


_STATE_AFTER: dict[str, shopify.SessionState] = {
    "session_update": "open",
    "session_close": "closed",
    "session_cancel": "cancelled",
    "session_return": "partially_returned",
}


def _applied_item(key: dict[str, Any], before: _EntityState, write: shopify.Write) -> dict[str, Any]:
    """The entity's record once ``write`` is applied: its latest update, its session's state."""
    attributes: dict[str, Any] = {}
    applied = before.applied_at
    if write.updated_at is not None and write.kind != "session_return":
        applied = write.updated_at if applied is None else max(applied, write.updated_at)
    if applied is not None:
        attributes["appliedAt"] = {"N": str(_micros(applied))}
    state = _STATE_AFTER.get(write.kind)
    if state == "open" and before.session_state is not None:
        state = before.session_state  # an update never reopens what ended
    if state is not None:
        attributes["state"] = {"S": state}
    return _item(key, attributes, erasure.mentions_of(write.path, [write.body]))


def _order(application: str | None, order_id: str, shop_domain: str) -> shopify.OrderRecord | None:
    """The order's record, if it is this shop's: shops of one application never see each
    other's orders (a refund naming another shop's order is an order not known)."""
    item = _get(_pk(application, "order", order_id))
    if item is None:
        return None
    order = shopify.OrderRecord.from_record(json.loads(item["record"]["S"]))
    return order if order.shop_domain == shop_domain else None


def _order_item(application: str | None, order: shopify.OrderRecord) -> dict[str, Any]:
    mentions = erasure.Mentions(sessions={order.session_id})
    if order.profile_id is not None:
        mentions.customers.add(order.profile_id)
    return _item(
        _pk(application, "order", order.order_id),
        {"record": {"S": json.dumps(order.as_record(), separators=(",", ":"))}},
        mentions,
    )


def _erased(application: str | None, write: shopify.Write) -> bool:
    """Whether a customer the write names was redacted (a tombstone: a late write must not
    bring them back to Talon.One)."""
    customers = erasure.mentions_of(write.path, [write.body]).customers
    return any(_get(_pk(application, "erased", customer)) is not None for customer in customers)


# Delivering a job


@dataclass(frozen=True, slots=True)
class Attempted:
    """How a job ended: sent (``delivered``, with Talon.One's answer) or ``dropped`` (late, or
    nothing to send), and whether its record must forget the customer (an erasure)."""

    state: Settled
    talon_status: int | None = None
    talon_body: str | None = None
    note: str | None = None
    scrub: bool = False
    answer_path: dict[str, str] = field(default_factory=dict)  # what the answer is indexed under


def _send(
    operation_name: str,
    path: dict[str, str],
    query: dict[str, list[str]],
    body: Any,
    *,
    deadline: upstream.Deadline,
    idempotency_key: str | None,
    application: str | None,
) -> UpstreamResponse:
    return upstream.call(
        BY_NAME[operation_name],
        path_values=path,
        deadline=deadline,
        query=[(name, value) for name, values in query.items() for value in values],
        body=None if body is None else json.dumps(body, separators=(",", ":")).encode(),
        idempotency_key=idempotency_key,
        application=application,
    )


def _drop(job: Job, reason: str) -> Attempted:
    metrics.add_metric("ShopifyWebhooksDropped", MetricUnit.Count, 1)
    logger.info("shopify webhook dropped", extra={"topic": job.webhook.topic, "reason": reason})
    return Attempted("dropped", note=reason)


def _deliver_write(
    job: Job, write: shopify.Write, delivery_id: str, deadline: upstream.Deadline, application: str | None
) -> Attempted:
    key, state = _state_of(application, write.entity)
    reason = shopify.drop_reason(write, last_applied_at=state.applied_at, session_state=state.session_state)
    if reason is not None:
        return _drop(job, reason)
    if _erased(application, write):
        return _drop(job, "customer_erased")
    refund = None
    if write.kind == "session_return" and write.idempotency_key is not None:
        refund = _pk(application, "refund", write.idempotency_key)
    if refund is not None and _get(refund) is not None:
        # Returned already (a refund's body captured and sent again under a new event id)
        return _drop(job, "refund_applied")
    if deliveries.read(delivery_id) is None:
        return _drop(job, "erased")  # its customer was redacted since the attempt began
    answer = _send(
        write.operation,
        write.path,
        write.query,
        write.body,
        deadline=deadline,
        # The write's own key (a refund's), else the delivery's: a retried attempt is recognisable.
        idempotency_key=write.idempotency_key or delivery_id,
        application=application,
    )
    # The entity's state, the order's record and the refund's mark together, or none of them
    # (a crash between them would lose the order's record to every later refund).
    items = [_applied_item(key, state, write)]
    if job.remember is not None:
        items.append(_order_item(application, job.remember))
    if refund is not None:
        items.append(_item(refund, {}, erasure.Mentions()))
    if not _put_while_queued(delivery_id, items):
        logger.info(
            "shopify delivery erased while it was sent: nothing recorded", extra={"topic": job.webhook.topic}
        )
    return Attempted("delivered", answer.status, answer.body.decode(), answer_path=write.path)


def _deliver_refund(
    job: Job, delivery_id: str, deadline: upstream.Deadline, application: str | None
) -> Attempted:
    assert job.refund is not None
    order = _order(application, job.refund["order_id"], job.webhook.shop_domain)
    if order is None:
        metrics.add_metric("ShopifyOrderUnknown", MetricUnit.Count, 1)
        raise OrderNotYetKnown
    outcome = shopify.map_webhook(job.webhook, job.refund, order=order)
    if isinstance(outcome, shopify.Acknowledge):
        return _drop(job, outcome.reason)
    assert isinstance(outcome, shopify.Deliver)
    return _deliver_write(job, outcome.write, delivery_id, deadline, application)


def _erase(job: Job, delivery_id: str, deadline: upstream.Deadline, application: str | None) -> Attempted:
    if job.customer_id is None or job.write is None:
        raise TypeError("an erasure job names its customer and its write")
    # The tombstone first: a write of this customer delivered from now on is dropped, not sent
    # (it would bring the profile back to Talon.One). It names the customer by digest only.
    key = _pk(application, "erased", job.customer_id)
    aws.client("dynamodb").put_item(TableName=_table(), Item=key | {"expiration": {"N": str(_expires())}})
    erasure.erase_for(job.customer_id, before=True)
    status = 204
    try:
        status = _send(
            job.write.operation,
            job.write.path,
            job.write.query,
            None,
            deadline=deadline,
            idempotency_key=delivery_id,
            application=application,
        ).status
    except UpstreamRejected as exc:
        if exc.status != 404:
            raise
        status = 404  # a customer Talon.One never had: nothing to erase there
    dynamodb: Any = aws.client("dynamodb")
    for order_id in job.order_ids:
        dynamodb.delete_item(TableName=_table(), Key=_pk(application, "order", order_id))
    erasure.erase_for(job.customer_id, before=False)
    metrics.add_metric("ShopifyCustomersRedacted", MetricUnit.Count, 1)
    return Attempted("delivered", status, None, scrub=True)


def _export(job: Job, delivery_id: str, deadline: upstream.Deadline, application: str | None) -> Attempted:
    if job.customer_id is None or job.read is None:
        raise TypeError("an export job names its customer and its read")
    settings = get_settings()
    if settings.gateway_bucket is None:
        raise ConfigurationError("GATEWAY_BUCKET is not set: customers' data exports need it")
    answer = _send(
        job.read.operation,
        job.read.path,
        job.read.query,
        None,
        deadline=deadline,
        idempotency_key=None,
        application=application,
    )
    shop = job.webhook.shop_domain
    orders = [
        record.as_record() for o in job.order_ids if (record := _order(application, o, shop)) is not None
    ]
    document = {
        "shopDomain": job.webhook.shop_domain,
        "customerId": job.customer_id,
        "dataRequestId": job.data_request_id,
        "talonOne": {
            "application": application or DEFAULT_NAME,
            "customerInventory": json.loads(answer.body),
        },
        "gateway": {"orders": orders},
    }
    key = f"{EXPORT_PREFIX}{job.webhook.shop_domain}/{job.data_request_id or delivery_id}.json"
    encryption: dict[str, str] = (
        {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": settings.exports_kms_key_arn}
        if settings.exports_kms_key_arn
        else {"ServerSideEncryption": "AES256"}
    )
    # Indexed first: an export that exists is always found by erasure.
    erasure.index(f"s3#{key}", erasure.Mentions(customers={job.customer_id}), _expires())
    aws.client("s3").put_object(
        Bucket=settings.gateway_bucket,
        Key=key,
        Body=json.dumps(document, indent=2).encode(),
        ContentType="application/json",
        **encryption,
    )
    metrics.add_metric("ShopifyDataExports", MetricUnit.Count, 1)
    # The location only: what it holds is the customer's.
    logger.info("customer data exported", extra={"bucket": settings.gateway_bucket, "key": key})
    location = json.dumps({"export": f"s3://{settings.gateway_bucket}/{key}"})
    return Attempted("delivered", answer.status, location)


def attempt(request: deliveries.Request, delivery_id: str, deadline: upstream.Deadline) -> Attempted:
    """Deliver one Shopify job; raise what the worker's failure handling classifies."""
    assert request.body is not None
    job = decode(request.body)
    application = request.application
    match job.kind:
        case "write":
            assert job.write is not None
            return _deliver_write(job, job.write, delivery_id, deadline, application)
        case "refund":
            return _deliver_refund(job, delivery_id, deadline, application)
        case "erase":
            return _erase(job, delivery_id, deadline, application)
        case "export":
            return _export(job, delivery_id, deadline, application)
