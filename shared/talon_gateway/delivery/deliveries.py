"""The records of asynchronous deliveries, in the state table: what was accepted, how it went.

    pk = delivery#<id>, sk = "-"
    state       queued → delivered | failed (a retry is scheduled) | dead (in the dead-letter queue)
                | dropped (a Shopify webhook older than what was applied, or with nothing to send)
    request     operation, path values, query, body, idempotency key (until delivered),
                the Talon.One application
    outcome     attempts, talonStatus, talonBody (once Talon.One answered), lastError

A record lives as long as an idempotency record (IDEMPOTENCY_TTL_SECONDS) and is indexed for
erasure under the customers and sessions its request and answer name (erasure.py); the
queue's messages carry only the delivery id, so erasing the record erases the message's data
too. Every update after the first write is conditional on the record still existing: a
delivery erased meanwhile is never written back.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from talon_gateway.config import get_settings
from talon_gateway.delivery import aws, erasure
from talon_gateway.errors import ConfigurationError

State = Literal["queued", "delivered", "failed", "dead", "dropped"]
# Talon.One's answers above this size are kept compressed (an item holds at most 400 KB).
COMPRESS_ABOVE = 32 * 1024
MAX_STORED_ANSWER = 300 * 1024
_COMPRESSED = "z:"


def new_id() -> str:
    return "dlv_" + secrets.token_hex(16)


def _table() -> str:
    table = get_settings().state_table
    if table is None:
        raise ConfigurationError("STATE_TABLE is not set: asynchronous deliveries need it")
    return table


def _key(delivery_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"delivery#{delivery_id}"}, "sk": {"S": "-"}}


@dataclass(frozen=True, slots=True)
class Request:
    """A write accepted for asynchronous delivery: everything the worker needs to send it."""

    operation: str
    path_values: Mapping[str, str]
    query: Sequence[tuple[str, str]]
    body: bytes | None
    idempotency_key: str | None
    group: str  # the queue's message group (the entity the write touches)
    application: str | None = None  # the Talon.One application (None: the default one)


@dataclass(frozen=True, slots=True)
class Record:
    id: str
    state: State
    attempts: int
    request: Request | None  # None once delivered (or scrubbed after an erasure)
    talon_status: int | None = None
    talon_body: str | None = None
    last_error: str | None = None
    scope: str | None = None  # the operation, for the reader's scope
    application: str | None = None  # kept once the request is forgotten, for the reader's scope

    def as_answer(self) -> dict[str, Any]:
        """What GET /deliveries/{id} answers."""
        answer: dict[str, Any] = {"id": self.id, "state": self.state, "attempts": self.attempts}
        if self.talon_status is not None:
            answer["talonStatus"] = self.talon_status
            answer["talonBody"] = json.loads(self.talon_body) if self.talon_body else None
        if self.last_error is not None:
            answer["lastError"] = self.last_error
        return answer


def _pack(text: str) -> str:
    if len(text) <= COMPRESS_ABOVE:
        return text
    packed = _COMPRESSED + base64.b64encode(zlib.compress(text.encode(), 6)).decode()
    if len(packed) > MAX_STORED_ANSWER:
        # Not kept: the caller reads the state and status; Talon.One holds the entity itself.
        return ""
    return packed


def _unpack(text: str) -> str:
    if text.startswith(_COMPRESSED):
        return zlib.decompress(base64.b64decode(text.removeprefix(_COMPRESSED))).decode()
    return text


def create(delivery_id: str, request: Request, *, index: bool | erasure.Mentions) -> None:
    """Write the queued record (before its message is sent), indexed for erasure under what its
    request names, or under ``index`` when given, or not at all when False (an erasure's own
    record: it would erase itself)."""
    expires = int(time.time()) + get_settings().idempotency_ttl_seconds
    item: dict[str, Any] = _key(delivery_id) | {
        "state": {"S": "queued"},
        "attempts": {"N": "0"},
        "operation": {"S": request.operation},
        "pathValues": {"M": {k: {"S": v} for k, v in request.path_values.items()}},
        "query": {"S": json.dumps(list(request.query))},
        "group": {"S": request.group},
        "acceptedAt": {"N": str(int(time.time()))},
        "expiration": {"N": str(expires)},
    }
    if request.body is not None:
        item["body"] = {"S": request.body.decode()}
    if request.idempotency_key is not None:
        item["idempotencyKey"] = {"S": request.idempotency_key}
    if request.application is not None:
        item["application"] = {"S": request.application}
    if index is not False:
        if isinstance(index, erasure.Mentions):
            mentions = index
        else:
            document = json.loads(request.body) if request.body else None
            mentions = erasure.mentions_of(request.path_values, [document])
        if mentions.customers or mentions.sessions:
            erasure.index(f"delivery#{delivery_id}", mentions, expires)
    aws.client("dynamodb").put_item(TableName=_table(), Item=item)


def delete(delivery_id: str) -> None:
    aws.client("dynamodb").delete_item(TableName=_table(), Key=_key(delivery_id))


def read(delivery_id: str) -> Record | None:
    item = (
        aws.client("dynamodb")
        .get_item(TableName=_table(), Key=_key(delivery_id), ConsistentRead=True)
        .get("Item")
    )
    if item is None or int(item["expiration"]["N"]) < time.time():
        return None
    request = None
    if "operation" in item and "pathValues" in item:
        request = Request(
            operation=item["operation"]["S"],
            path_values={k: v["S"] for k, v in item["pathValues"]["M"].items()},
            query=[(k, v) for k, v in json.loads(item["query"]["S"])],
            body=item["body"]["S"].encode() if "body" in item else None,
            idempotency_key=item.get("idempotencyKey", {}).get("S"),
            group=item["group"]["S"],
            application=item.get("application", {}).get("S"),
        )
    talon_body = item.get("talonBody", {}).get("S")
    return Record(
        id=delivery_id,
        state=item["state"]["S"],
        attempts=int(item["attempts"]["N"]),
        request=request,
        talon_status=int(item["talonStatus"]["N"]) if "talonStatus" in item else None,
        talon_body=_unpack(talon_body) if talon_body is not None else None,
        last_error=item.get("lastError", {}).get("S"),
        scope=item.get("operation", {}).get("S"),
        application=item.get("application", {}).get("S"),
    )


def settle(
    delivery_id: str,
    state: State,
    *,
    attempts: int,
    talon_status: int | None = None,
    talon_body: str | None = None,
    last_error: str | None = None,
    forget_request: bool = False,
    scrub: bool = False,
) -> bool:
    """Record an attempt's outcome; False when the record is gone (erased, expired) meanwhile.

    ``forget_request`` drops the body once delivered (nothing needs it any more); ``scrub`` also
    drops the path values (an erasure's record must not keep the customer's id).
    """
    names = {"#state": "state"}
    values: dict[str, Any] = {":state": {"S": state}, ":attempts": {"N": str(attempts)}}
    sets = ["#state = :state", "attempts = :attempts"]
    removes = []
    if talon_status is not None:
        sets.append("talonStatus = :status")
        values[":status"] = {"N": str(talon_status)}
    if talon_body:  # an empty answer (204) keeps none
        sets.append("talonBody = :body")
        values[":body"] = {"S": _pack(talon_body)}
    if last_error is not None:
        sets.append("lastError = :error")
        values[":error"] = {"S": last_error}
    else:
        removes.append("lastError")
    if forget_request:
        removes += ["body", "idempotencyKey"]
    if scrub:
        removes += ["pathValues", "query"]
    # Every removed name through a placeholder: some (query) are DynamoDB reserved words.
    names |= {f"#r{n}": name for n, name in enumerate(removes)}
    expression = (
        "SET "
        + ", ".join(sets)
        + (" REMOVE " + ", ".join(f"#r{n}" for n in range(len(removes))) if removes else "")
    )
    dynamodb: Any = aws.client("dynamodb")
    try:
        dynamodb.update_item(
            TableName=_table(),
            Key=_key(delivery_id),
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def index_answer(delivery_id: str, path_values: Mapping[str, str], answer: str) -> None:
    """Index what Talon.One's answer names (a session's profile, found only now)."""
    document = json.loads(answer) if answer else None
    mentions = erasure.mentions_of(path_values, [document])
    if mentions.customers or mentions.sessions:
        expires = int(time.time()) + get_settings().idempotency_ttl_seconds
        erasure.index(f"delivery#{delivery_id}", mentions, expires)
