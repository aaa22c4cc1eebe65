"""Erasure: after deleteCustomerData, nothing the gateway keeps still holds that customer.

The gateway keeps Talon.One's answers (idempotency records, and their overflow objects in S3)
and, for asynchronous deliveries, requests waiting in its state table. Each of these is indexed,
when it is written, under the identifiers it mentions:

    pk = customer#<sha256 of a profile integration id>   sk = <what to delete>
    pk = session#<sha256 of a session integration id>    sk = <what to delete>
    pk = customer#<...>                                   sk = link#session#<...>

A record that names a customer and a session also links the two, because a session first
seen anonymously is only later tied to its profile. Erasing a customer deletes everything
indexed under the customer and under each session linked to it, then the index entries.
Identifiers are found by key name wherever they appear (profileId, integrationId,
advocateProfileIntegrationId, integrationIDs...): indexing too much costs an index entry,
indexing too little would keep personal data, so the rule errs on the side of indexing.
Index entries expire with what they point at (the table's TTL).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from talon_gateway.config import get_settings
from talon_gateway.delivery import aws
from talon_gateway.errors import ConfigurationError, IdempotencyStoreUnavailable
from talon_gateway.observability import MetricUnit, logger, metrics

# Keys whose string values name a customer profile, or a customer session.
_CUSTOMER_KEYS = frozenset(
    {
        "profileid",
        "integrationid",
        "integrationids",
        "advocateprofileintegrationid",
        "friendprofileintegrationid",
        "profileintegrationid",
        "customerprofileid",
        "recipientintegrationid",
    }
)
_SESSION_KEYS = frozenset({"sessionid", "customersessionid", "sessionintegrationid"})
# Inside these objects, ``integrationId`` is a session's.
_SESSION_OBJECTS = frozenset({"customersession", "session"})
# Path parameters by what they name.
_CUSTOMER_PARAMS = frozenset({"integrationId"})
_SESSION_PARAMS = frozenset({"customerSessionId"})
_BATCH = 25  # DynamoDB's BatchWriteItem limit


def digest(identifier: str) -> str:
    return hashlib.sha256(identifier.encode()).hexdigest()


@dataclass
class Mentions:
    """The customers and sessions a stored item mentions."""

    customers: set[str] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)

    def add_path(self, path_values: Mapping[str, str]) -> Mentions:
        for name, value in path_values.items():
            if name in _CUSTOMER_PARAMS:
                self.customers.add(value)
            elif name in _SESSION_PARAMS:
                self.sessions.add(value)
        return self

    def add_document(self, node: Any, parent: str = "") -> Mentions:
        if isinstance(node, dict):
            for key, value in node.items():
                name = str(key).lower()
                if name == "integrationid" and parent in _SESSION_OBJECTS:
                    self._add(self.sessions, value)
                elif name in _CUSTOMER_KEYS:
                    self._add(self.customers, value)
                elif name in _SESSION_KEYS:
                    self._add(self.sessions, value)
                if isinstance(value, dict | list):
                    self.add_document(value, name)
        elif isinstance(node, list):
            for value in node:
                self.add_document(value, parent)
        return self

    @staticmethod
    def _add(into: set[str], value: Any) -> None:
        if isinstance(value, str) and value:
            into.add(value)
        elif isinstance(value, list):
            into.update(v for v in value if isinstance(v, str) and v)


def _state_table() -> str:
    table = get_settings().state_table
    if table is None:
        raise ConfigurationError("STATE_TABLE is not set: the gateway cannot index what it stores")
    return table


def _write(requests: list[dict[str, Any]]) -> None:
    dynamodb: Any = aws.client("dynamodb")
    table = _state_table()
    for start in range(0, len(requests), _BATCH):
        pending: list[dict[str, Any]] = requests[start : start + _BATCH]
        for _ in range(5):
            answer = dynamodb.batch_write_item(RequestItems={table: pending})
            pending = answer.get("UnprocessedItems", {}).get(table, [])
            if not pending:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("the state table left index writes unprocessed")


def index(ref: str, mentions: Mentions, expires: int) -> None:
    """Record that ``ref`` (``idempotency#<id>``, ``delivery#<id>``, ``shopify#<...>``,
    ``s3#<key>``) holds data of
    the customers and sessions ``mentions`` names, until ``expires`` (epoch seconds)."""
    keys = {f"customer#{digest(c)}" for c in mentions.customers} | {
        f"session#{digest(s)}" for s in mentions.sessions
    }
    items = [(pk, ref) for pk in sorted(keys)] + [
        (f"customer#{digest(c)}", f"link#session#{digest(s)}")
        for c in sorted(mentions.customers)
        for s in sorted(mentions.sessions)
    ]
    _write(
        [
            {"PutRequest": {"Item": {"pk": {"S": pk}, "sk": {"S": sk}, "expiration": {"N": str(expires)}}}}
            for pk, sk in items
        ]
    )


def _entries(pk: str) -> list[str]:
    dynamodb: Any = aws.client("dynamodb")
    refs: list[str] = []
    kwargs: dict[str, Any] = {
        "TableName": _state_table(),
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
        "ProjectionExpression": "sk",
        "ConsistentRead": True,
    }
    while True:
        page = dynamodb.query(**kwargs)
        refs.extend(item["sk"]["S"] for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return refs
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _delete_target(ref: str) -> None:
    settings = get_settings()
    dynamodb: Any = aws.client("dynamodb")
    kind, _, name = ref.partition("#")
    if kind == "idempotency" and settings.idempotency_table:
        dynamodb.delete_item(TableName=settings.idempotency_table, Key={"id": {"S": name}})
        if settings.gateway_bucket:
            aws.client("s3").delete_object(Bucket=settings.gateway_bucket, Key=overflow_key(name))
    elif kind in ("delivery", "shopify"):
        # A queued delivery, or what the Shopify source remembers (delivery/shopify.py).
        dynamodb.delete_item(TableName=_state_table(), Key={"pk": {"S": ref}, "sk": {"S": "-"}})
    elif kind == "s3" and settings.gateway_bucket:
        aws.client("s3").delete_object(Bucket=settings.gateway_bucket, Key=name)


def overflow_key(idempotency_id: str) -> str:
    """Where an answer too large for its idempotency record is kept (S3)."""
    return f"answers/{digest(idempotency_id)}"


def erase(customer: str) -> int:
    """Delete everything indexed under the customer and its sessions; the number of items removed.

    Idempotent: erasing twice, or a customer the gateway never saw, removes nothing more.
    """
    root = f"customer#{digest(customer)}"
    groups: dict[str, list[str]] = {root: _entries(root)}
    for ref in groups[root]:
        if ref.startswith("link#"):
            linked = ref.removeprefix("link#")
            groups[linked] = _entries(linked)
    targets = {ref for refs in groups.values() for ref in refs if not ref.startswith("link#")}
    for ref in sorted(targets):
        _delete_target(ref)
    _write(
        [
            {"DeleteRequest": {"Key": {"pk": {"S": pk}, "sk": {"S": sk}}}}
            for pk, refs in groups.items()
            for sk in refs
        ]
    )
    metrics.add_metric("ErasedItems", MetricUnit.Count, len(targets))
    logger.info("customer erased from the gateway's stores", extra={"items": len(targets)})
    return len(targets)


def mentions_of(path_values: Mapping[str, str], documents: Iterable[Any]) -> Mentions:
    found = Mentions().add_path(path_values)
    for document in documents:
        found.add_document(document)
    return found


def erase_for(customer: str, *, before: bool) -> None:
    """The gateway's part of an erasure request, around Talon.One's: before Talon.One is asked, a
    failure refuses the request (503: the retry finds everything still to do); afterwards (what
    was written for that customer meanwhile) it is logged and counted, and the caller gets
    Talon.One's answer (a retry of the erasure erases again)."""
    try:
        erase(customer)
    except Exception as exc:  # noqa: BLE001 - any failure of the stores, reported as such
        if before:
            logger.error("gateway stores unavailable for an erasure", extra={"error": type(exc).__name__})
            raise IdempotencyStoreUnavailable(type(exc).__name__) from None
        metrics.add_metric("ErasureIncomplete", MetricUnit.Count, 1)
        logger.error(
            "gateway stores failed after Talon.One erased the customer: retry the erasure",
            extra={"error": type(exc).__name__},
        )
