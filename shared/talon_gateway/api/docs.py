"""Documented responses of the routes: the success model plus every error status the gateway returns."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ConfigDict, Field

from talon_gateway.api.routes import DELIVERY
from talon_gateway.operation import Operation


class ErrorSource(BaseModel):
    model_config = ConfigDict(extra="allow")

    pointer: str | None = Field(default=None, description="JSON pointer to the invalid part of the body")
    parameter: str | None = Field(default=None, description="Name of the invalid path or query parameter")


class ErrorItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    title: str
    details: str
    source: ErrorSource


class ErrorBody(BaseModel):
    """Talon.One's error shape, used for the gateway's own errors too."""

    model_config = ConfigDict(extra="allow")

    message: str
    errors: list[ErrorItem]
    status_code: int = Field(alias="StatusCode")


class DeliveryAccepted(BaseModel):
    """The 202 of a write queued with ``Prefer: respond-async``."""

    delivery_id: str = Field(alias="deliveryId", description="Its outcome: GET /deliveries/{deliveryId}")
    state: str = Field(description="queued")


class DeliveryOutcome(BaseModel):
    """GET /deliveries/{deliveryId}: where a queued write stands."""

    id: str
    state: str = Field(
        description="queued, delivered, failed (the last attempt failed, a retry is scheduled), "
        "dead (in the dead-letter queue) or dropped (a Shopify webhook that arrived too late)"
    )
    attempts: int = Field(description="Attempts made so far (a replay of a dead letter starts again at 0)")
    talon_status: int | None = Field(default=None, alias="talonStatus", description="Once Talon.One answered")
    talon_body: Any = Field(default=None, alias="talonBody", description="Talon.One's answer, once given")
    last_error: str | None = Field(
        default=None, alias="lastError", description="Why the last attempt failed (no customer data)"
    )


_QUEUED: OpenAPIResponse = {
    "description": (
        "Queued for the delivery worker: the request carried Prefer: respond-async. Delivered to "
        "Talon.One in order with the entity's other writes; its outcome is at the Location"
    ),
    "headers": {
        "Location": {"description": "/deliveries/{deliveryId}", "schema": {"type": "string"}},
        "Preference-Applied": {"description": "respond-async", "schema": {"type": "string"}},
    },
    "content": {"application/json": {"model": DeliveryAccepted}},
}

_ERRORS: dict[int, str] = {
    400: "Invalid request (every invalid field or parameter listed), or Talon.One's own 400",
    401: (
        "The caller is not authenticated: no valid bearer token or Standard Webhooks signature, a "
        "signature on an operation that takes none, or a webhook-id already used for another request"
    ),
    403: "The caller's credentials do not allow this operation (their scope)",
    404: "Talon.One found no such entity",
    # Checked before anything else, on every route: any request may carry a body.
    413: "The request's body is larger than the configured limit (MAX_BODY_BYTES)",
    429: "Talon.One asks to slow down (Retry-After)",
    500: "Unexpected gateway failure or misconfiguration",
    502: "Talon.One failed or refused the gateway's credentials (Retry-After)",
    503: "A dependency of the gateway is unavailable (Retry-After)",
    504: "Talon.One did not answer in time (Retry-After)",
}
_BODY_ERRORS: dict[int, str] = {
    415: "The body is not application/json",
}


_WRITE_ERRORS: dict[int, str] = {
    409: (
        "Talon.One refused a concurrent update, or a request with this idempotency key is in progress "
        "(Retry-After)"
    ),
    422: "This idempotency key was already used with another request",
}


NO_CONTENT = "Done, no content"
# The modules of Talon.One's answers, loaded only to write the OpenAPI document (tools/openapi.py):
# the Lambda functions never import the 40+ response models.
_answers: dict[bool, ModuleType] = {}


def document_models() -> None:
    """Document the answers' models in the routes declared from now on (the OpenAPI generator)."""
    from talon_gateway.models import legacy_responses, responses

    _answers.update({False: responses, True: legacy_responses})


def may_be_queued(operation: Operation) -> bool:
    """Whether ``Prefer: respond-async`` can queue it (Talon.One's writes, not the gateway's)."""
    return operation.is_write and not operation.local


def responses(operation: Operation) -> dict[int, OpenAPIResponse]:
    """The OpenAPI responses of one route: its success answers, then every error it can give."""
    documented: dict[int, OpenAPIResponse] = {}
    for status, schema in operation.successes:
        if schema == DELIVERY:
            documented[status] = {
                "description": "The delivery's state",
                "content": {"application/json": {"model": DeliveryOutcome}},
            }
        elif schema is None:
            documented[status] = {"description": NO_CONTENT}
        elif not _answers:
            documented[status] = {"description": "Talon.One's answer, passed through unchanged"}
        else:
            model: type[BaseModel] = getattr(_answers[operation.legacy], _python_name(schema))
            documented[status] = {
                "description": "Talon.One's answer, passed through unchanged",
                "content": {"application/json": {"model": model}},
            }
    if may_be_queued(operation):
        documented[202] = _QUEUED
    errors = (
        _ERRORS | (_BODY_ERRORS if operation.has_body else {}) | (_WRITE_ERRORS if operation.is_write else {})
    )
    if any(schema == DELIVERY for _, schema in operation.successes):
        errors = errors | {404: "No such delivery (unknown, or expired after IdempotencyTtlSeconds)"}
    for code in sorted(errors):
        content: Any = {"application/json": {"model": ErrorBody}}
        documented[code] = {"description": errors[code], "content": content}
    return documented


def _python_name(schema: str) -> str:
    """datamodel-code-generator's class name for a component schema (getX_200_response → GetX200Response)."""
    return "".join(part[:1].upper() + part[1:] for part in schema.split("_"))


_IDENTIFIER = (
    "percent-encoded as one path segment. Refused with 400: the values `.` and `..`, bytes that are "
    "not UTF-8, and characters of the Unicode categories Cc (controls, NUL included), Cf (format: "
    "zero-width and bidirectional marks), Cs, Co, Cn, Zl, Zp, and Zs other than the space U+0020"
)


def identifier(description: str) -> str:
    """A path parameter's description, with what the gateway refuses in one."""
    return f"{description.rstrip('.')}: {_IDENTIFIER}."
