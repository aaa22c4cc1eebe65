"""The request path every function shares.

    API Gateway event
      → guard (inbound/guard.py): size, authentication and scope, consistent path and query,
        idempotency key, single-use webhook id, media type, one JSON document, cart limits
      → Powertools resolver with validation (typed route, strict request model)
      → forward: at most once per idempotency key, sign and send to Talon.One, pass its
        answer back unchanged; erasure also empties the gateway's own stores
      → one error mapping for every failure (http_errors)

The guard runs before the resolver because Powertools validates the body before any user
middleware could run, and nothing may parse a body from an unauthenticated caller.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder, Router
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from talon_gateway.api import http_errors, snapstart
from talon_gateway.delivery import claims, erasure
from talon_gateway.delivery.record import Delivery
from talon_gateway.errors import DeliveryNotFound, Forbidden
from talon_gateway.inbound.event import parse_json
from talon_gateway.inbound.guard import Guarded, guard
from talon_gateway.observability import MetricUnit, get_tracer, logger, metrics
from talon_gateway.operation import Operation
from talon_gateway.operations import BY_NAME
from talon_gateway.upstream import policy as upstream

JSON = "application/json"
CORRELATION_HEADER = "X-Correlation-Id"
REPLAYED_HEADER = "Idempotent-Replayed"

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


# The request being served by this execution environment (one at a time, as in Lambda).
_current: ContextVar[Guarded] = ContextVar("guarded")


def _loads(text: str) -> Any:
    """JSON for Powertools' validation: the document the guard already parsed (once, refusing
    duplicate keys, NaN, Infinity and numbers out of range), else the same parser."""
    guarded = _current.get(None)
    if guarded is not None and guarded.text is not None and text == guarded.text:
        return guarded.document
    return parse_json(text)


def build_app(router: Router) -> APIGatewayRestResolver:
    # debug=False whatever POWERTOOLS_DEV says: the resolver's debug mode prints raw events
    # (credentials and customers' data) to the logs.
    app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=_loads, debug=False)
    app.include_router(router)
    http_errors.register(app)
    return app


def _text(value: object) -> str:
    """A validated parameter as Talon.One reads it (Go's strconv and RFC 3339)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def upstream_query(values: Mapping[str, object]) -> list[tuple[str, str]]:
    """The query Talon.One gets: the values as validated, not as the caller spelt them (``1`` for
    a boolean is ``true``); arrays as repeated parameters (the spec's ``explode``; the others
    are validated and sent as the one comma-separated string the caller sent)."""
    pairs: list[tuple[str, str]] = []
    for name, value in values.items():
        if isinstance(value, list | tuple):
            pairs.extend((name, _text(v)) for v in value)
        elif value is not None:
            pairs.append((name, _text(value)))
    return pairs


def forward(
    operation: Operation,
    *,
    path: Mapping[str, object] | None = None,
    query: Mapping[str, object] | None = None,
) -> Response[str]:
    """Send the validated request to Talon.One (at most once per idempotency key); answer unchanged.

    ``path`` and ``query`` hold the route's validated parameters by their Talon.One names: what
    the gateway validated is what Talon.One gets (an id ``007`` validated as 7 is sent as 7).
    """
    guarded = _current.get()
    # Strings as API Gateway decoded them (the route sees the encoded path); others as validated.
    path_values = {
        name: guarded.path_values[name] if isinstance(value, str) else _text(value)
        for name, value in (path or guarded.path_values).items()
    }
    pairs = upstream_query(query or {})

    def send() -> Delivery:
        answer = upstream.call(
            operation,
            path_values=path_values,
            deadline=guarded.deadline,
            query=pairs,
            body=guarded.body,
            idempotency_key=guarded.idempotency_key,
            application=guarded.application,
        )
        # upstream.call checked that a 2xx body is UTF-8 JSON: the text goes back byte for byte.
        return Delivery(answer.status, answer.content_type, answer.body.decode())

    def enqueue() -> Delivery:
        from talon_gateway.delivery import queue

        delivery_id = queue.accept(
            operation,
            path_values=path_values,
            query=pairs,
            body=guarded.body,
            document=guarded.document,
            idempotency_key=guarded.idempotency_key,
            application=guarded.application,
        )
        return Delivery(202, JSON, json.dumps({"deliveryId": delivery_id, "state": "queued"}))

    queued = guarded.respond_async and operation.is_write
    erased = path_values.get(operation.erases) if operation.erases and not queued else None
    if erased is not None:
        # Erasure starts with the gateway's own stores: if they cannot be reached, Talon.One is
        # not asked either, and the caller's retry finds everything still to do. (Queued, the
        # worker does this around its delivery.)
        erasure.erase_for(erased, before=True)
    if guarded.idempotency_key is None:
        delivery = enqueue() if queued else send()
    else:
        from talon_gateway.delivery import idempotency

        delivery = idempotency.deliver_once(
            operation,
            guarded.idempotency_key,
            path_values=path_values,
            query=guarded.query,
            body=guarded.body,
            send=enqueue if queued else send,
            application=guarded.application,
        )
    if erased is not None:
        # Again: what was written for that customer while Talon.One erased it.
        erasure.erase_for(erased, before=False)
    return respond(delivery)


def respond(delivery: Delivery) -> Response[str]:
    """The answer of a delivery: Talon.One's (or a 202 for a queued one), marked when replayed."""
    headers = {REPLAYED_HEADER: "true"} if delivery.replayed else {}
    if delivery.replayed:
        metrics.add_metric("IdempotentReplays", MetricUnit.Count, 1)
    if delivery.status == 202:
        # Relative to the API's base URL (the stage's), as the README says.
        headers |= {"Location": f"/deliveries/{json.loads(delivery.body)['deliveryId']}"}
        headers |= {"Preference-Applied": "respond-async"}
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
            guarded = guard(operation, event, context, claims.claim)
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

    return observed(handle, correlation_paths.API_GATEWAY_REST)


def observed(handle: LambdaHandler, correlation_id_path: str | None) -> LambdaHandler:
    """A Lambda entry point with Powertools' Logger, Metrics and (when on) Tracer around it."""
    decorated: LambdaHandler | None = None

    def entry_point(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        nonlocal decorated
        if decorated is None:
            # Composed on the first invocation: the tracer exists only when tracing is on.
            chain: Any = metrics.log_metrics(handle)
            tracer = get_tracer()
            if tracer is not None:
                chain = tracer.capture_lambda_handler(chain, capture_response=False)
            # log_event=False whatever POWERTOOLS_LOGGER_LOG_EVENT says: an event holds the
            # caller's credentials and customers' data.
            decorated = logger.inject_lambda_context(
                chain, correlation_id_path=correlation_id_path, log_event=False
            )
        try:
            return decorated(event, context)
        finally:
            # log_metrics flushes and clears, except when metrics are disabled (local runs):
            # clear anyway so nothing accumulates across warm invocations.
            metrics.clear_metrics()

    return entry_point


def read_delivery(delivery_id: str) -> Response[str]:
    """GET /deliveries/{id}: an asynchronous delivery's state, for callers the original
    operation's scope admits (its request and its answer are theirs to see)."""
    from talon_gateway.delivery import deliveries

    record = deliveries.read(delivery_id)
    if record is None or record.scope not in BY_NAME:
        raise DeliveryNotFound
    principal = _current.get().principal
    if not principal.allows(BY_NAME[record.scope]):
        raise Forbidden(record.scope)
    application = record.request.application if record.request else record.application
    if application is not None and not principal.allows_application(application):
        raise Forbidden(record.scope, application=application)
    return Response(200, JSON, json.dumps(record.as_answer(), separators=(",", ":")))


def worker_handler() -> LambdaHandler:
    """The delivery worker's entry point (SQS FIFO event source, partial batch failures)."""
    from talon_gateway.delivery import worker

    snapstart.register()

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        metrics.add_dimension("operation", "deliver")
        return worker.handle(event, context)

    return observed(handle, None)
