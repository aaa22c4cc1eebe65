"""The request path every function shares.

    API Gateway event
      → guard: size, encoding, media type, unknown query parameters (before any parsing)
      → Powertools resolver with validation (typed route, request model)
      → forward: sign and send to Talon.One (upstream.call), pass the answer back unchanged
      → one error mapping for every failure (http_errors)

The guard runs before the resolver because Powertools validates the body before any user
middleware could intervene, and nothing may parse a body that is too large or not UTF-8.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from typing import Any, cast

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder, Router
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from talon_gateway import http_errors, upstream
from talon_gateway.config import get_settings
from talon_gateway.errors import (
    FieldProblem,
    GatewayError,
    InvalidRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from talon_gateway.observability import MetricUnit, logger, metrics, tracer
from talon_gateway.operations import Operation

CORRELATION_HEADER = "X-Correlation-Id"
RAW_BODY = "raw_body"
DEADLINE = "deadline"

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def _loads(text: str) -> Any:
    """json.loads whose every failure is a JSONDecodeError, so Powertools reports a 400."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError) as exc:  # nesting too deep, integer too long
        raise json.JSONDecodeError(f"unparsable JSON ({type(exc).__name__})", text, 0) from None


def build_app(router: Router) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=_loads)
    app.include_router(router)
    http_errors.register(app)
    return app


def _lower_headers(event: Mapping[str, Any]) -> dict[str, str]:
    return {name.lower(): value for name, value in (event.get("headers") or {}).items()}


def read_body(operation: Operation, event: Mapping[str, Any], headers: Mapping[str, str]) -> bytes | None:
    """The exact body bytes the caller sent, checked for size, encoding and media type."""
    if not operation.has_body:
        return None
    text: str | None = event.get("body")
    if text is None:
        return b""
    limit = get_settings().max_body_bytes
    # A base64 text is 4/3 of its bytes: refuse clearly oversized bodies before decoding them.
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
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in ("", "application/json"):
        raise UnsupportedMediaType()
    try:
        raw.decode()
    except UnicodeDecodeError:
        raise InvalidRequest(
            [FieldProblem("Invalid body", "The body is not valid UTF-8", pointer="")]
        ) from None
    return raw


def check_query(operation: Operation, event: Mapping[str, Any]) -> None:
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


def forward(
    operation: Operation,
    app: APIGatewayRestResolver | Router,
    *,
    query: Mapping[str, bool | None] | None = None,
) -> Response[str]:
    """Send the validated request to Talon.One and hand its answer back unchanged."""
    event = app.current_event
    answer = upstream.call(
        operation,
        path_values=event.get("pathParameters") or {},
        deadline=app.context[DEADLINE],
        query={
            name: "true" if value else "false" for name, value in (query or {}).items() if value is not None
        },
        body=app.context[RAW_BODY],
    )
    if answer.status == 204 or not answer.body:
        return Response(answer.status, None, "")
    # upstream.call checked that a 2xx body is UTF-8 JSON; the text goes back byte for byte.
    return Response(answer.status, answer.content_type, answer.body.decode())


def _with_correlation_id(result: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    if request_id:
        result.setdefault("multiValueHeaders", {})[CORRELATION_HEADER] = [request_id]
    return result


def lambda_handler_for(operation: Operation, app: APIGatewayRestResolver) -> LambdaHandler:
    """The Lambda entry point of one function: observability around guard and resolver."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        metrics.add_dimension("operation", operation.name)
        metrics.add_metric("Requests", MetricUnit.Count, 1)
        request_id = (event.get("requestContext") or {}).get("requestId")
        try:
            headers = _lower_headers(event)
            check_query(operation, event)
            raw_body = read_body(operation, event, headers)
        except GatewayError as exc:
            builder = ResponseBuilder[APIGatewayProxyEvent](http_errors.response_for(exc))
            response = builder.build(APIGatewayProxyEvent(event))
            return _with_correlation_id(response, request_id)
        app.append_context(
            **{RAW_BODY: raw_body, DEADLINE: upstream.Deadline.within(context.get_remaining_time_in_millis())}
        )
        return _with_correlation_id(app.resolve(event, context), request_id)

    return cast("LambdaHandler", lambda_handler)
