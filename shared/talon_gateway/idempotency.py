"""At-most-once delivery of writes, with Powertools idempotency on DynamoDB.

Key: the caller's ``Idempotency-Key`` header, else the Standard Webhooks ``webhook-id``,
scoped per operation. Without a key a write is processed without deduplication.
- same key, same payload → the stored answer (status and body), Talon.One not called;
- same key, another payload → 422;
- same key while the first is in flight → 409 with Retry-After;
- a failed delivery (any exception, which includes every non-2xx answer) is not stored;
- in-flight records expire with the Lambda's remaining time, completed ones after
  IDEMPOTENCY_TTL_SECONDS;
- the idempotency store failing → 503 with Retry-After, never a delivery without deduplication.

``idempotent_function`` sits on the delivery function (it raises on failure), not on the
handler, so a mapped error response is never stored as completed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from talon_gateway.config import AWS_CLIENT_CONFIG, get_settings
from talon_gateway.errors import ConfigurationError, FieldProblem, InvalidRequest
from talon_gateway.operations import Operation

KEY_HEADERS = ("idempotency-key", "webhook-id")
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Delivery:
    """Talon.One's answer to a write, as stored for replays."""

    status: int
    content_type: str | None
    body: str
    replayed: bool = False

    def as_record(self) -> dict[str, Any]:
        return {"status": self.status, "contentType": self.content_type, "body": self.body}


def idempotency_key(headers: Mapping[str, str]) -> str | None:
    """The caller's key (header names lower-case), checked to be a sane token."""
    for name in KEY_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        if not value or len(value) > MAX_KEY_LENGTH or not value.isprintable() or not value.isascii():
            raise InvalidRequest(
                [
                    FieldProblem(
                        "Invalid idempotency key",
                        f"1 to {MAX_KEY_LENGTH} printable ASCII characters",
                        parameter=name,
                    )
                ]
            )
        return value
    return None


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    return {**response, "replayed": True}


@cache
def get_config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="payload",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=get_settings().idempotency_ttl_seconds,
        response_hook=_mark_replayed,
    )


@cache
def get_persistence() -> DynamoDBPersistenceLayer:
    """Built on first use: the DynamoDB client is never created by read-only functions."""
    table = get_settings().idempotency_table
    if table is None:
        raise ConfigurationError("IDEMPOTENCY_TABLE is not set but a write carried an idempotency key")
    return DynamoDBPersistenceLayer(table_name=table, boto_config=AWS_CLIENT_CONFIG)


def register(context: LambdaContext) -> None:
    """Give Powertools the invocation's context: in-flight records expire with its remaining time."""
    get_config().register_lambda_context(context)


def _deliver(request: dict[str, Any], send: Callable[[], Delivery]) -> dict[str, Any]:
    return send().as_record()


@cache
def _deliver_once() -> Callable[..., dict[str, Any]]:
    return cast(
        "Callable[..., dict[str, Any]]",
        idempotent_function(
            _deliver,
            data_keyword_argument="request",
            persistence_store=get_persistence(),
            config=get_config(),
        ),
    )


def deliver_once(
    operation: Operation,
    key: str,
    *,
    path_values: Mapping[str, str],
    query: Mapping[str, str],
    body: bytes | None,
    send: Callable[[], Delivery],
) -> Delivery:
    """Run ``send`` at most once per (operation, key); replay its stored answer afterwards."""
    request = {
        "key": f"{operation.name}#{key}",
        # What must match for a replay: the target and a digest of the exact body bytes.
        "payload": {
            "path": dict(path_values),
            "query": dict(query),
            "body": hashlib.sha256(body).hexdigest() if body is not None else None,
        },
    }
    record = _deliver_once()(request=request, send=send)
    return Delivery(record["status"], record["contentType"], record["body"], bool(record.get("replayed")))


def reset() -> None:
    """Forget the configuration and the persistence layer (tests)."""
    get_config.cache_clear()
    get_persistence.cache_clear()
    _deliver_once.cache_clear()
