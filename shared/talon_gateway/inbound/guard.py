"""The guard: everything checked before the body is parsed, in the order that keeps it safe.

The size limit comes first so that nobody, authenticated or not, makes the function hash
megabytes; authentication comes before anything else is looked at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from talon_gateway.inbound.auth import authenticate
from talon_gateway.inbound.credentials import get_inbound_secrets
from talon_gateway.inbound.event import (
    check_body,
    check_path_values,
    check_query,
    headers_of,
    idempotency_key,
    raw_body,
)
from talon_gateway.operations import Operation
from talon_gateway.upstream import policy as upstream


@dataclass(frozen=True, slots=True)
class Guarded:
    """What the guard established about the request being served, for ``forward``."""

    body: bytes | None  # the exact bytes to forward (None: the operation has no body)
    path_values: dict[str, str]  # decoded by API Gateway (REST keeps ``path`` encoded)
    idempotency_key: str | None
    deadline: upstream.Deadline


def guard(operation: Operation, event: Mapping[str, Any], context: LambdaContext) -> Guarded:
    """Everything checked before the body is parsed; raises a ``GatewayError`` on refusal."""
    headers, repeated = headers_of(event)
    raw = raw_body(event)
    authenticate(get_inbound_secrets(), headers, raw, repeated)
    path_values: dict[str, str] = event.get("pathParameters") or {}
    check_path_values(path_values)
    check_query(operation, event)
    if operation.has_body:
        check_body(raw, headers, event)
    return Guarded(
        body=raw if operation.has_body else None,
        path_values=path_values,
        idempotency_key=idempotency_key(headers) if operation.is_write else None,
        deadline=upstream.Deadline.within(context.get_remaining_time_in_millis()),
    )
