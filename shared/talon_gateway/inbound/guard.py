"""The guard: everything checked before the resolver, in the order that keeps it safe.

    size → path and query read → authentication (a verified signature claims its single-use
    webhook id at once, before a bearer token beside it is checked) → path and query refused if
    inconsistent → scope → Talon.One application → idempotency key → media type, UTF-8, one
    JSON document → cart limits

The size limit comes first so that nobody, authenticated or not, makes the function hash
megabytes; authentication is answered before anything else (an unauthenticated caller learns
nothing of its parameters); a signed request claims its webhook id as soon as its signature
verifies, before it can be refused for any reason, so that no request refused here can be
replayed to a route where it would pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools.utilities.typing import LambdaContext

from talon_gateway.errors import InvalidRequest
from talon_gateway.inbound.application import APPLICATION_HEADER, select_application
from talon_gateway.inbound.auth import Principal, SignedWebhook, authenticate, authorize
from talon_gateway.inbound.credentials import get_inbound_secrets
from talon_gateway.inbound.event import (
    check_body,
    headers_of,
    idempotency_key,
    parse_json,
    path_values,
    prefers_async,
    query_of,
    raw_body,
)
from talon_gateway.inbound.limits import check_limits
from talon_gateway.operation import Operation
from talon_gateway.upstream.policy import Deadline


class Claim(Protocol):
    """Binds a signed request's webhook id to the request (delivery/claims.py), or refuses it."""

    def __call__(
        self,
        *,
        credential: str,
        webhook_id: str,
        timestamp: int,
        operation: Operation,
        path_values: Mapping[str, str],
        query: Mapping[str, Sequence[str]],
        body: bytes,
        application: str,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Guarded:
    """What the guard established about the request being served, for the route and ``forward``."""

    principal: Principal
    headers: dict[str, str]  # by lower-case name
    body: bytes | None  # the exact bytes to forward (None: the operation has no body)
    text: str | None  # the body as text, as the resolver will see it
    document: Any  # the body parsed once, handed to the resolver's validation
    path_values: dict[str, str]  # decoded by API Gateway (REST keeps ``path`` encoded)
    query: dict[str, list[str]]  # every value, in order
    idempotency_key: str | None
    deadline: Deadline
    respond_async: bool = False  # Prefer: respond-async (RFC 7240), on writes
    application: str | None = None  # the Talon.One application (None on the gateway's own routes)


def guard(operation: Operation, event: dict[str, Any], context: LambdaContext, claim: Claim) -> Guarded:
    """Everything checked before the resolver; raises a ``GatewayError`` on refusal."""
    headers, repeated = headers_of(event)
    raw = raw_body(event)
    # Read before authenticating, refused after it (an unauthenticated caller learns nothing
    # of its parameters); the claim below needs them.
    malformed: InvalidRequest | None = None
    try:
        values, query = path_values(operation, event), query_of(operation, event)
    except InvalidRequest as exc:
        malformed, values, query = exc, {"": str(event.get("path"))}, {}

    def bind(webhook: SignedWebhook) -> None:
        # Every verified signature claims its id, on every route (those that refuse signatures,
        # or refuse this request, included): a captured request is then worth nothing elsewhere.
        claim(
            credential=webhook.credential,
            webhook_id=webhook.id,
            timestamp=webhook.timestamp,
            operation=operation,
            path_values=values,
            query=query,
            body=raw,
            # As sent (the header is not signed): the same signature for another application
            # is another request.
            application=headers.get(APPLICATION_HEADER, ""),
        )

    principal = authenticate(get_inbound_secrets(), headers, raw, repeated, verified=bind)
    if malformed is not None:
        raise malformed
    webhook = principal.webhook
    authorize(principal, operation)
    application = None if operation.local else select_application(headers, repeated, principal, operation)
    key = idempotency_key(headers, repeated, webhook.id if webhook else None) if operation.is_write else None
    check_body(operation, raw, headers, event)
    text = raw.decode() if operation.has_body else None
    document = parse_json(text) if text else None
    check_limits(operation, document)
    return Guarded(
        principal=principal,
        headers=headers,
        body=raw if operation.has_body else None,
        text=text,
        document=document,
        path_values=values,
        query=query,
        idempotency_key=key,
        deadline=Deadline.within(context.get_remaining_time_in_millis()),
        respond_async=operation.is_write and prefers_async(headers),
        application=application,
    )
