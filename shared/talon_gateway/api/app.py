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

import json
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder, Router
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic_core import from_json

from talon_gateway.api import http_errors, snapstart
from talon_gateway.delivery.record import Delivery
from talon_gateway.inbound.guard import Guarded, guard
from talon_gateway.observability import MetricUnit, get_tracer, logger, metrics
from talon_gateway.operations import Operation
from talon_gateway.upstream import policy as upstream

CORRELATION_HEADER = "X-Correlation-Id"
REPLAYED_HEADER = "Idempotent-Replayed"

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


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
