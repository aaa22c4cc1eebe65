"""Single-use webhook ids: a signed request is good for one route only.

A Standard Webhooks signature covers ``id.timestamp.body`` and nothing of the method, path or
query, and one secret is valid on every route that accepts signatures: a captured request
could be replayed, within the timestamp tolerance, to another route. The first time the
gateway sees a webhook id (per signing secret) it records a fingerprint of the whole request
(operation, path parameters, query, body, the X-Talon-Application header) under that id, with
one conditional write; a request with the same id and another fingerprint is refused (401).
The same request again (a sender's retry, signed anew) passes and is answered from the
idempotency record.

A claim needs to outlive only the signature's validity (timestamp ± 5 minutes): afterwards no
replay of that signature can pass. Claims live in the idempotency table (``claim#`` keys,
beside Powertools' records) and expire through its TTL.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from talon_gateway.config import get_settings
from talon_gateway.delivery import aws
from talon_gateway.errors import ConfigurationError, IdempotencyStoreUnavailable, Unauthenticated
from talon_gateway.observability import MetricUnit, logger, metrics
from talon_gateway.operation import Operation

SIGNATURE_TOLERANCE_SECONDS = 300
CLAIM_MARGIN_SECONDS = 60


def fingerprint(
    operation: Operation,
    path_values: Mapping[str, str],
    query: Mapping[str, Sequence[str]],
    body: bytes,
    application: str = "",
) -> str:
    """What a webhook id is bound to: the operation and everything that selects its effect."""
    canonical = json.dumps(
        [
            operation.name,
            application,
            sorted(path_values.items()),
            sorted((name, list(values)) for name, values in query.items()),
            hashlib.sha256(body).hexdigest(),
        ],
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim_key(credential: str, webhook_id: str) -> str:
    return f"claim#{credential}#{hashlib.sha256(webhook_id.encode()).hexdigest()}"


def claim(
    *,
    credential: str,
    webhook_id: str,
    timestamp: int,
    operation: Operation,
    path_values: Mapping[str, str],
    query: Mapping[str, Sequence[str]],
    body: bytes,
    application: str = "",
) -> None:
    """Bind the webhook id (signed by ``credential`` at ``timestamp``) to this request, or refuse
    a request that reuses it for another (401)."""
    request_fingerprint = fingerprint(operation, path_values, query, body, application)
    table = get_settings().idempotency_table
    if table is None:
        raise ConfigurationError("IDEMPOTENCY_TABLE is not set but a signed write needs a claim")
    expiration = max(timestamp, int(time.time())) + SIGNATURE_TOLERANCE_SECONDS + CLAIM_MARGIN_SECONDS
    dynamodb: Any = aws.client("dynamodb")
    try:
        dynamodb.update_item(
            TableName=table,
            Key={"id": {"S": claim_key(credential, webhook_id)}},
            UpdateExpression="SET fingerprint = :fp, expiration = :exp",
            ConditionExpression="attribute_not_exists(id) OR fingerprint = :fp",
            ExpressionAttributeValues={":fp": {"S": request_fingerprint}, ":exp": {"N": str(expiration)}},
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        metrics.add_metric("WebhookReplayRefused", MetricUnit.Count, 1)
        raise Unauthenticated("replayed_signature") from None
    except Exception as exc:  # noqa: BLE001 - any failure of the store: nothing may be delivered
        logger.error("webhook claim store unavailable", extra={"error": type(exc).__name__})
        raise IdempotencyStoreUnavailable(type(exc).__name__) from None
