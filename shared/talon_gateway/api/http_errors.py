"""The one place where failures become HTTP responses.

Every error body has Talon.One's own error shape, so clients parse one format:
``{"message": str, "errors": [{"title", "details", "source": {"pointer"} | {"parameter"}}],
"StatusCode": int}``. Bodies are fixed texts: no stack trace, secret, customer data or
internals. Talon.One's own 4xx answers (other than 401/403) pass through unchanged.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from talon_gateway.errors import (
    ConfigurationError,
    DeliveryNotFound,
    FieldProblem,
    Forbidden,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    IdempotencyStoreUnavailable,
    InvalidRequest,
    PayloadTooLarge,
    QueueUnavailable,
    SecretsUnavailable,
    ShopNotConfigured,
    Unauthenticated,
    UnsupportedMediaType,
    UpstreamAuthRejected,
    UpstreamMalformed,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from talon_gateway.observability import MetricUnit, logger, metrics

JSON = "application/json"
# How long a caller should wait before retrying when the gateway or Talon.One is unavailable.
RETRY_AFTER_SECONDS = 1


def error_body(status: int, message: str, problems: Iterable[FieldProblem] = ()) -> str:
    errors: list[dict[str, Any]] = []
    for problem in problems:
        source = {"pointer": problem.pointer} if problem.pointer is not None else {}
        if problem.parameter is not None:
            source["parameter"] = problem.parameter
        errors.append({"title": problem.title, "details": problem.details, "source": source})
    if not errors:
        errors.append({"title": HTTPStatus(status).phrase, "details": message, "source": {}})
    return json.dumps({"message": message, "errors": errors, "StatusCode": status}, separators=(",", ":"))


def error_response(
    status: int,
    message: str,
    problems: Iterable[FieldProblem] = (),
    *,
    retry_after: float | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    all_headers = dict(headers or {})
    if retry_after is not None:
        all_headers["Retry-After"] = str(max(1, round(retry_after)))
    return Response(status, JSON, error_body(status, message, problems), headers=all_headers)


_TITLES = {
    "missing": "Missing field",
    "extra_forbidden": "Unknown field",
    "json_invalid": "Invalid JSON",
}


def json_pointer(location: Sequence[str | int]) -> str:
    """RFC 6901 JSON pointer; the whole document is the empty string."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in location)


def problems_from_validation(errors: Sequence[Any]) -> list[FieldProblem]:
    """One problem per invalid field, located by JSON pointer (body) or parameter name."""
    problems: list[FieldProblem] = []
    for error in errors:
        where, *location = error["loc"]
        title = _TITLES.get(error["type"], "Invalid value")
        details = str(error.get("msg", "invalid"))
        if error["type"] == "json_invalid":
            problems.append(FieldProblem(title, "The body is not valid JSON", pointer=""))
        elif where == "body":
            problems.append(FieldProblem(title, details, pointer=json_pointer(location)))
        else:
            problems.append(FieldProblem(title, details, parameter=str(location[0]) if location else where))
    return problems


def response_for(exc: Exception) -> Response[str] | Response[bytes]:
    """Map any exception to its response; unexpected ones become a bare 500."""
    match exc:
        case RequestValidationError():
            return error_response(400, "The request is invalid", problems_from_validation(exc.errors()))
        case InvalidRequest():
            return error_response(400, "The request is invalid", exc.problems)
        case PayloadTooLarge():
            return error_response(413, f"The body is larger than the limit of {exc.limit} bytes")
        case UnsupportedMediaType() | RequestUnsupportedContentType():
            return error_response(415, "The body must be application/json")
        case Unauthenticated():
            metrics.add_metric("InboundAuthFailed", MetricUnit.Count, 1)
            logger.warning("inbound authentication failed", extra={"reason": exc.reason})
            return error_response(
                401,
                "Authentication required",
                headers={"WWW-Authenticate": 'Bearer realm="talon-gateway", Signature realm="talon-gateway"'},
            )
        case Forbidden():
            metrics.add_metric("InboundForbidden", MetricUnit.Count, 1)
            logger.warning("credential outside its scope", extra={"reason": "out_of_scope"})
            if exc.application is not None:
                return error_response(
                    403, f"These credentials may not call the Talon.One application {exc.application}"
                )
            return error_response(403, f"These credentials may not call {exc.operation}")
        case UpstreamRejected():
            retry_after = exc.retry_after
            if retry_after is None and exc.status in (409, 429):
                retry_after = RETRY_AFTER_SECONDS  # both say "later": tell the caller when
            headers = {"Retry-After": str(round(retry_after))} if retry_after is not None else {}
            content_type = exc.content_type or JSON
            try:
                return Response(exc.status, content_type, exc.body.decode(), headers=headers)
            except UnicodeDecodeError:
                # Powertools base64-encodes bytes; API Gateway restores them exactly.
                return Response(exc.status, content_type, exc.body, headers=headers)
        case UpstreamAuthRejected():
            logger.error("Talon.One refused the gateway's credentials", extra={"status": exc.status})
            return error_response(502, "The gateway's credentials for Talon.One were refused")
        case UpstreamTimeout():
            logger.error("Talon.One timed out", extra={"attempts": exc.attempts})
            return error_response(504, "Talon.One did not answer in time", retry_after=RETRY_AFTER_SECONDS)
        case UpstreamMalformed():
            return error_response(
                502, "Talon.One answered with a malformed body", retry_after=RETRY_AFTER_SECONDS
            )
        case UpstreamUnavailable():
            logger.error("Talon.One unavailable", extra={"status": exc.status, "attempts": exc.attempts})
            return error_response(
                502, "Talon.One is unavailable", retry_after=exc.retry_after or RETRY_AFTER_SECONDS
            )
        case IdempotencyKeyReused():
            return error_response(422, "This idempotency key was already used with another request")
        case IdempotencyInProgress():
            return error_response(
                409, "A request with this idempotency key is in progress", retry_after=RETRY_AFTER_SECONDS
            )
        case IdempotencyStoreUnavailable():
            logger.error("idempotency store unavailable", extra={"error": str(exc)})
            return error_response(
                503, "The gateway cannot deduplicate this request now", retry_after=RETRY_AFTER_SECONDS
            )
        case QueueUnavailable():
            return error_response(
                503, "The gateway cannot queue this request now", retry_after=RETRY_AFTER_SECONDS
            )
        case ShopNotConfigured():
            logger.warning("shopify webhook from a shop no Talon.One application serves")
            return error_response(403, "No Talon.One application is configured for this shop")
        case DeliveryNotFound():
            return error_response(404, "No such delivery (unknown, or expired)")
        case SecretsUnavailable():
            return error_response(
                503, "The gateway cannot read its credentials", retry_after=RETRY_AFTER_SECONDS
            )
        case ConfigurationError():
            logger.error("gateway misconfigured", extra={"problem": str(exc)})
            return error_response(500, exc.public_detail or "The gateway is misconfigured")
        case NotFoundError():
            return error_response(404, "No such route")
        case _:
            # The type and the stack (file, line, function of each frame), not the message: an
            # exception's message can hold a customer's data (a KeyError of an email address).
            stack = [
                f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}"
                for frame in traceback.extract_tb(exc.__traceback__)
            ]
            logger.error("unexpected error", extra={"error": type(exc).__name__, "stack": stack})
            return error_response(500, "Internal error")


def register(app: APIGatewayRestResolver) -> None:
    """Route every exception raised while resolving through ``response_for``."""
    app.exception_handler(Exception)(response_for)
    app.not_found(response_for)
