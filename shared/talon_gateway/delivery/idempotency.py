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

This module is the adapter to Powertools idempotency and DynamoDB (boto3): the gateway imports
it only when a write carries a key, so other invocations never load boto3 for it.

``idempotent_function`` sits on the delivery function (it raises on failure), not on the
handler, so a mapped error response is never stored as completed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, cast

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from talon_gateway.config import aws_client_config, get_settings
from talon_gateway.delivery.record import Delivery
from talon_gateway.errors import (
    ConfigurationError,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    IdempotencyStoreUnavailable,
)
from talon_gateway.operations import Operation

# A persistence layer that replaces DynamoDB (benchmarks); None: DynamoDB.
_persistence_override: BasePersistenceLayer | None = None


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
def get_persistence() -> BasePersistenceLayer:
    """Built on first use: the DynamoDB client is never created by read-only functions."""
    if _persistence_override is not None:
        return _persistence_override
    table = get_settings().idempotency_table
    if table is None:
        raise ConfigurationError("IDEMPOTENCY_TABLE is not set but a write carried an idempotency key")
    return DynamoDBPersistenceLayer(table_name=table, boto_config=aws_client_config())


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
    try:
        record = _deliver_once()(request=request, send=send)
    except IdempotencyValidationError:
        raise IdempotencyKeyReused from None
    except IdempotencyAlreadyInProgressError:
        raise IdempotencyInProgress from None
    except IdempotencyPersistenceLayerError as exc:
        raise IdempotencyStoreUnavailable(type(exc.__cause__).__name__) from None
    return Delivery.from_record(record)


def use_persistence(layer: BasePersistenceLayer | None) -> None:
    """Replace DynamoDB with another persistence layer (benchmarks), or restore it with None."""
    global _persistence_override  # noqa: PLW0603 - a deliberate seam, set before the first invocation
    _persistence_override = layer
    reset()


def reset() -> None:
    """Forget the configuration and the persistence layer (tests, SnapStart restores)."""
    get_config.cache_clear()
    get_persistence.cache_clear()
    _deliver_once.cache_clear()
