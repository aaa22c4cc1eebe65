"""The request path every function shares.

    API Gateway event
      → guard: size, inbound authentication, unknown query parameters, media type, UTF-8,
        idempotency key (all before the body is parsed)
      → Powertools resolver with validation (typed route, strict request model)
      → forward: at most once per idempotency key, sign and send to Talon.One, pass its
        answer back unchanged
      → one error mapping for every failure (http_errors)

The guard runs before the resolver because Powertools validates the body before any user
middleware could run, and nothing may parse a body from an unauthenticated caller.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder, Router
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic_core import from_json

from talon_gateway.api import http_errors, snapstart
from talon_gateway.config import get_settings
from talon_gateway.delivery.record import Delivery
from talon_gateway.errors import (
    FieldProblem,
    InvalidRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from talon_gateway.inbound.auth import authenticate
from talon_gateway.observability import MetricUnit, get_tracer, logger, metrics
from talon_gateway.operations import Operation
from talon_gateway.secrets import get_inbound_secrets
from talon_gateway.upstream import policy as upstream

CORRELATION_HEADER = "X-Correlation-Id"
IDEMPOTENCY_KEY_HEADERS = ("idempotency-key", "webhook-id")
MAX_IDEMPOTENCY_KEY_LENGTH = 255
REPLAYED_HEADER = "Idempotent-Replayed"

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Guarded:
    """What the guard established about the request being served, for ``forward``."""

    body: bytes | None  # the exact bytes to forward (None: the operation has no body)
    path_values: dict[str, str]  # decoded by API Gateway (REST keeps ``path`` encoded)
    idempotency_key: str | None
    deadline: upstream.Deadline


# The request being served by this execution environment (one at a time, as in Lambda).
_current: ContextVar[Guarded] = ContextVar("guarded")


def _loads(text: str) -> Any:
    """JSON parsing for Powertools' validation: pydantic-core's parser (twice as fast as the
    standard library's on a 50-item cart), every failure a JSONDecodeError so it reports a 400.

    NaN and Infinity are not JSON and are refused; nesting stops at 200 levels. Numbers are as
    RFC 8259 allows: typed fields are bounded by the models (64-bit integers, finite floats),
    free-form values (attributes) go to Talon.One as sent.
    """
    try:
        return from_json(text, allow_inf_nan=False)
    except ValueError as exc:  # malformed, nesting too deep, number out of range
        raise json.JSONDecodeError(f"unparsable JSON ({exc})", text, 0) from None


def build_app(router: Router) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=_loads)
    app.include_router(router)
    http_errors.register(app)
    return app


def _raw_body(event: Mapping[str, Any]) -> bytes:
    """The body exactly as the caller sent it (API Gateway base64-encodes binary bodies)."""
    text: str | None = event.get("body")
    if not text:
        return b""
    limit = get_settings().max_body_bytes
    # Base64 text is 4/3 of its bytes: refuse clearly oversized bodies before decoding them.
    if len(text) > limit * 4 // 3 + 4:
        raise PayloadTooLarge(limit)
    try:
        raw = base64.b64decode(text, validate=True) if event.get("isBase64Encoded") else text.encode()
    except (binascii.Error, UnicodeEncodeError):
        raise InvalidRequest(
            [FieldProblem("Invalid body", "The body cannot be decoded", pointer="")]
        ) from None
    if len(raw) > limit:
        raise PayloadTooLarge(limit)
    return raw


def _check_query(operation: Operation, event: Mapping[str, Any]) -> None:
    """Unknown query parameters are refused by name, like unknown body fields."""
    names = set(event.get("multiValueQueryStringParameters") or {}) | set(
        event.get("queryStringParameters") or {}
    )
    unknown = sorted(names.difference(operation.query_params))
    if unknown:
        raise InvalidRequest(
            [
                FieldProblem("Unknown parameter", "This query parameter is not accepted", parameter=n)
                for n in unknown
            ]
        )


def _check_path_values(values: Mapping[str, str]) -> None:
    """Path parameters are identifiers: not dot segments, no control characters (NUL included)."""
    problems = [
        FieldProblem("Invalid value", "Not a valid identifier", parameter=name)
        for name, value in values.items()
        if value in (".", "..") or not value.isprintable()
    ]
    if problems:
        raise InvalidRequest(problems)


def _check_body(raw: bytes, headers: Mapping[str, str], event: Mapping[str, Any]) -> None:
    declared = headers.get("content-type", "")
    media_type, _, parameters = declared.partition(";")
    if media_type.strip().lower() not in ("", "application/json"):
        raise UnsupportedMediaType()
    if media_type and media_type.strip() != "application/json":
        # Media types are case-insensitive; Powertools' validation compares them as written.
        canonical = "application/json" + (f";{parameters}" if parameters else "")
        for field in ("headers", "multiValueHeaders"):
            for name in list(event.get(field) or {}):
                if name.lower() == "content-type":
                    event[field][name] = canonical if field == "headers" else [canonical]
    try:
        raw.decode()
    except UnicodeDecodeError:
        raise InvalidRequest(
            [FieldProblem("Invalid body", "The body is not valid UTF-8", pointer="")]
        ) from None


def _headers(event: Mapping[str, Any]) -> tuple[dict[str, str], set[str]]:
    """Headers by lower-case name (last value wins), and the names that came more than once.

    API Gateway REST keeps the caller's case and lists repeated headers in multiValueHeaders.
    """
    values: dict[str, list[str]] = {}
    multi = event.get("multiValueHeaders") or {
        name: [value] for name, value in (event.get("headers") or {}).items()
    }
    for name, listed in multi.items():
        values.setdefault(name.lower(), []).extend(listed or [])
    headers = {name: listed[-1] for name, listed in values.items() if listed}
    return headers, {name for name, listed in values.items() if len(listed) > 1}


def idempotency_key(headers: Mapping[str, str]) -> str | None:
    """The caller's key (``Idempotency-Key``, else ``webhook-id``), checked to be a sane token."""
    for name in IDEMPOTENCY_KEY_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        if (
            not value
            or len(value) > MAX_IDEMPOTENCY_KEY_LENGTH
            or not (value.isascii() and value.isprintable())
        ):
            detail = f"1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters"
            raise InvalidRequest([FieldProblem("Invalid idempotency key", detail, parameter=name)])
        return value
    return None


def guard(operation: Operation, event: Mapping[str, Any], context: LambdaContext) -> Guarded:
    """Everything checked before the body is parsed; raises a ``GatewayError`` on refusal.

    The size limit comes first so that nobody, authenticated or not, makes the function hash
    megabytes; authentication comes before anything else is looked at.
    """
    headers, repeated = _headers(event)
    raw = _raw_body(event)
    authenticate(get_inbound_secrets(), headers, raw, repeated)
    path_values: dict[str, str] = event.get("pathParameters") or {}
    _check_path_values(path_values)
    _check_query(operation, event)
    if operation.has_body:
        _check_body(raw, headers, event)
    return Guarded(
        body=raw if operation.has_body else None,
        path_values=path_values,
        idempotency_key=idempotency_key(headers) if operation.is_write else None,
        deadline=upstream.Deadline.within(context.get_remaining_time_in_millis()),
    )


def forward(operation: Operation, *, query: Mapping[str, bool | None] | None = None) -> Response[str]:
    """Send the validated request to Talon.One (at most once per idempotency key); answer unchanged."""
    guarded = _current.get()
    path_values = guarded.path_values
    flags = {name: "true" if value else "false" for name, value in (query or {}).items() if value is not None}

    def send() -> Delivery:
        answer = upstream.call(
            operation,
            path_values=path_values,
            deadline=guarded.deadline,
            query=flags,
            body=guarded.body,
            idempotency_key=guarded.idempotency_key,
        )
        # upstream.call checked that a 2xx body is UTF-8 JSON: the text goes back byte for byte.
        return Delivery(answer.status, answer.content_type, answer.body.decode())

    if guarded.idempotency_key is None:
        delivery = send()
    else:
        from talon_gateway.delivery import idempotency

        delivery = idempotency.deliver_once(
            operation,
            guarded.idempotency_key,
            path_values=path_values,
            query=flags,
            body=guarded.body,
            send=send,
        )
    headers = {REPLAYED_HEADER: "true"} if delivery.replayed else {}
    if delivery.replayed:
        metrics.add_metric("IdempotentReplays", MetricUnit.Count, 1)
    if delivery.status == 204 or not delivery.body:
        return Response(delivery.status, None, "", headers=headers)
    return Response(delivery.status, delivery.content_type, delivery.body, headers=headers)


def _with_correlation_id(result: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    if request_id:
        result.setdefault("multiValueHeaders", {})[CORRELATION_HEADER] = [request_id]
    return result


def lambda_handler_for(operation: Operation, app: APIGatewayRestResolver) -> LambdaHandler:
    """The Lambda entry point of one function: observability around guard and resolver."""
    snapstart.register()

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        metrics.add_dimension("operation", operation.name)
        metrics.add_metric("Requests", MetricUnit.Count, 1)
        request_id = (event.get("requestContext") or {}).get("requestId")
        try:
            guarded = guard(operation, event, context)
        except Exception as exc:  # noqa: BLE001 - every refusal, expected or not, becomes a mapped response
            builder = ResponseBuilder[APIGatewayProxyEvent](http_errors.response_for(exc))
            return _with_correlation_id(builder.build(APIGatewayProxyEvent(event)), request_id)
        if guarded.idempotency_key is not None:
            from talon_gateway.delivery import idempotency

            idempotency.register(context)
        token = _current.set(guarded)
        try:
            return _with_correlation_id(app.resolve(event, context), request_id)
        finally:
            _current.reset(token)

    decorated: LambdaHandler | None = None

    def entry_point(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        nonlocal decorated
        if decorated is None:
            # Composed on the first invocation: the tracer exists only when tracing is on.
            chain: Any = metrics.log_metrics(handle)
            tracer = get_tracer()
            if tracer is not None:
                chain = tracer.capture_lambda_handler(chain, capture_response=False)
            decorated = logger.inject_lambda_context(
                chain, correlation_id_path=correlation_paths.API_GATEWAY_REST
            )
        try:
            return decorated(event, context)
        finally:
            # log_metrics flushes and clears, except when metrics are disabled (local runs):
            # clear anyway so nothing accumulates across warm invocations.
            metrics.clear_metrics()

    return entry_point
