"""Documented responses of the routes: the success model plus every error status the gateway returns."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ConfigDict, Field

from talon_gateway.operations import Operation


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


_ERRORS: dict[int, str] = {
    400: "Invalid request (every invalid field listed), or Talon.One's own 400",
    401: "The caller is not authenticated",
    404: "Talon.One found no such entity",
    429: "Talon.One asks to slow down (Retry-After)",
    500: "Unexpected gateway failure or misconfiguration",
    502: "Talon.One failed or refused the gateway's credentials (Retry-After)",
    503: "A dependency of the gateway is unavailable (Retry-After)",
    504: "Talon.One did not answer in time (Retry-After)",
}
_BODY_ERRORS: dict[int, str] = {
    413: "The body is larger than the configured limit",
    415: "The body is not application/json",
}


_WRITE_ERRORS: dict[int, str] = {
    409: (
        "Talon.One refused a concurrent update, or a request with this idempotency key is in progress "
        "(Retry-After)"
    ),
    422: "This idempotency key was already used with another request",
}


def responses(
    operation: Operation, model: type[BaseModel] | None, *, status: int = 200
) -> dict[int, OpenAPIResponse]:
    """The OpenAPI responses of one route: its success answer, then every error answer it can give."""
    documented: dict[int, OpenAPIResponse] = {}
    if model is None:
        documented[status] = {"description": "Done, no content"}
    else:
        documented[status] = {
            "description": "Talon.One's answer, passed through unchanged",
            "content": {"application/json": {"model": model}},
        }
    errors = (
        _ERRORS | (_BODY_ERRORS if operation.has_body else {}) | (_WRITE_ERRORS if operation.is_write else {})
    )
    for code in sorted(errors):
        content: Any = {"application/json": {"model": ErrorBody}}
        documented[code] = {"description": errors[code], "content": content}
    return documented


_IDENTIFIER = "percent-encoded as one path segment; not `.` or `..`, no control characters (else 400)"
COUPON_VALUE = f"The coupon code, {_IDENTIFIER} (SUMMER 20/50% is SUMMER%2020%2F50%25)"
INTEGRATION_ID = f"The customer profile's integration id, {_IDENTIFIER}"
SESSION_ID = f"The customer session's integration id, {_IDENTIFIER}"
