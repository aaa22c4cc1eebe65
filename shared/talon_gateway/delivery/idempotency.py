"""At-most-once delivery of writes, with Powertools idempotency on DynamoDB.

Key: a signed request's ``webhook-id``, else the caller's ``Idempotency-Key``, scoped by
operation (as in the first release, so a retry across an upgrade is still recognised) and, for
a named Talon.One application other than ``default``, by application.
Without a key a write is processed without deduplication.
- same key, same request (path, query, body bytes) → the stored answer, Talon.One not called;
- same key, another request → 422;
- same key while the first is in flight → 409 with Retry-After;
- a failed delivery (any exception, which includes every non-2xx answer) is not stored;
- in-flight records expire with the Lambda's remaining time, completed ones after
  IDEMPOTENCY_TTL_SECONDS;
- the store failing before Talon.One is called → 503 with Retry-After, never a delivery
  without deduplication.

What the gateway's own storage must never do is make a processed write run twice, so its
persistence layer differs from Powertools' DynamoDB layer in three ways:
- an answer too large for one item (400 KB) is stored compressed, or in S3 when even that is
  too large, instead of failing the completion (which would leave the key to expire and the
  write to be executed again on retry);
- completing (or releasing) a record is retried, and when DynamoDB still fails after Talon.One
  answered the caller gets Talon.One's answer, with the ``IdempotencyCompletionFailed`` metric
  and an error log line, instead of a 503 that invites a retry;
- what a completed record holds is indexed under the customers and sessions its answer names,
  so that erasure finds it (erasure.py).

This module is the adapter to Powertools idempotency and DynamoDB (boto3): the gateway imports
it only when a write carries a key, so other invocations never load boto3 for it.
``idempotent_function`` sits on the delivery function (it raises on failure), not on the
handler, so a mapped error response is never stored as completed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Callable, Mapping, Sequence
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
from tenacity import Retrying, stop_after_attempt, wait_exponential

from talon_gateway.config import get_settings
from talon_gateway.delivery import aws, erasure
from talon_gateway.delivery.record import Delivery
from talon_gateway.errors import (
    ConfigurationError,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    IdempotencyStoreUnavailable,
)
from talon_gateway.observability import MetricUnit, logger, metrics
from talon_gateway.operation import Operation
from talon_gateway.upstream.credentials import DEFAULT_NAME

# Answers above this size are stored compressed; compressed ones above the second limit go to
# S3 (DynamoDB items hold at most 400 KB, attribute names and the other attributes included).
COMPRESS_ABOVE = 64 * 1024
INLINE_LIMIT = 300 * 1024
_COMPRESSED = "z:"
_IN_S3 = "s3:"
# Completing or releasing a record: a few quick attempts (each already two of botocore's).
_STORE_ATTEMPTS = 3

# A persistence layer that replaces DynamoDB (benchmarks); None: DynamoDB.
_persistence_override: BasePersistenceLayer | None = None


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    return {**response, "replayed": True}


def _retrying() -> Retrying:
    return Retrying(
        stop=stop_after_attempt(_STORE_ATTEMPTS),
        wait=wait_exponential(multiplier=0.05, max=0.4),
        reraise=True,
    )


class GatewayPersistenceLayer(DynamoDBPersistenceLayer):
    """Powertools' DynamoDB layer, made safe for answers of any size and for a failing store."""

    def _encode(self, idempotency_key: str, response_data: str) -> str:
        if len(response_data) <= COMPRESS_ABOVE:
            return response_data
        packed = _COMPRESSED + base64.b64encode(zlib.compress(response_data.encode(), 6)).decode()
        if len(packed) <= INLINE_LIMIT:
            return packed
        bucket = get_settings().gateway_bucket
        if bucket is None:
            raise ConfigurationError("GATEWAY_BUCKET is not set: an answer too large to store inline")
        key = erasure.overflow_key(idempotency_key)
        aws.client("s3").put_object(Bucket=bucket, Key=key, Body=zlib.compress(response_data.encode(), 6))
        return _IN_S3 + key

    @staticmethod
    def _decode(stored: str) -> str:
        if stored.startswith(_COMPRESSED):
            return zlib.decompress(base64.b64decode(stored.removeprefix(_COMPRESSED))).decode()
        if stored.startswith(_IN_S3):
            bucket = get_settings().gateway_bucket
            body = aws.client("s3").get_object(Bucket=bucket, Key=stored.removeprefix(_IN_S3))["Body"].read()
            return zlib.decompress(body).decode()
        return stored

    def _update_record(self, data_record: DataRecord) -> None:
        if data_record.response_data:
            data_record.response_data = self._encode(data_record.idempotency_key, data_record.response_data)
        super()._update_record(data_record)

    def _item_to_data_record(self, item: dict[str, Any]) -> DataRecord:
        record = super()._item_to_data_record(item)
        if record.response_data:
            record.response_data = self._decode(record.response_data)
        return record

    def _complete(self, data: dict[str, Any], result: dict[str, Any]) -> None:
        key = self._get_hashed_idempotency_key(data=data)
        if key is not None and get_settings().state_table is not None:
            body = result.get("body") or ""
            answer: Any = json.loads(body) if body else None
            mentions = erasure.mentions_of(data.get("pathValues") or {}, [answer])
            if mentions.customers or mentions.sessions:
                erasure.index(f"idempotency#{key}", mentions, self._get_expiry_timestamp())
        super().save_success(data, result)

    def save_success(self, data: dict[str, Any], result: dict[str, Any]) -> None:
        try:
            _retrying()(self._complete, data, result)
        except Exception as exc:  # noqa: BLE001 - Talon.One answered: that answer goes back regardless
            metrics.add_metric("IdempotencyCompletionFailed", MetricUnit.Count, 1)
            logger.error(
                "idempotency record not completed after Talon.One answered: a retry of this key may "
                "be refused as in progress until the record expires",
                extra={"error": type(exc).__name__},
            )

    def delete_record(self, data: dict[str, Any], exception: Exception) -> None:
        try:
            _retrying()(super().delete_record, data, exception)
        except Exception as exc:  # noqa: BLE001 - the delivery's own failure is what the caller must see
            metrics.add_metric("IdempotencyReleaseFailed", MetricUnit.Count, 1)
            logger.error(
                "idempotency record not released after a failed delivery: it expires with the invocation",
                extra={"error": type(exc).__name__},
            )


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
    # The gateway's own DynamoDB client (its erasure index and delivery records use it too):
    # one client per environment, not two (each parses the service's model: ~100 ms cold).
    return GatewayPersistenceLayer(table_name=table, boto3_client=aws.client("dynamodb"))


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
    query: Mapping[str, Sequence[str]],
    body: bytes | None,
    send: Callable[[], Delivery],
    application: str | None = None,
) -> Delivery:
    """Run ``send`` at most once per (operation, application, key); replay its stored answer
    afterwards. The first release's single application keeps its keys' first-release scope."""
    scope = operation.name if application in (None, DEFAULT_NAME) else f"{operation.name}@{application}"
    request = {
        "key": f"{scope}#{key}",
        # What must match for a replay: the target and a digest of the exact body bytes.
        "payload": {
            "path": dict(path_values),
            "query": {name: list(values) for name, values in query.items()},
            "body": hashlib.sha256(body).hexdigest() if body is not None else None,
        },
        "pathValues": dict(path_values),  # not hashed: what erasure indexes the answer under
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
