"""Talon.One's error shape, shared by every non-2xx answer of the sandbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

# Talon.One's wording for parallel writes to one entity (docs: "Managing parallel requests").
CONCURRENT_SESSION_MESSAGE = "Too many requests are updating this session at the same time"
CONCURRENT_PROFILE_MESSAGE = "Too many requests are updating this customer profile at the same time"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One entry of ``errors``: ``pointer`` is a JSON pointer into the request ("" = whole request).

    ``parameter`` names the query or path parameter at fault (ErrorSource.parameter).
    """

    title: str
    details: str
    pointer: str = ""
    parameter: str | None = None

    def to_json(self) -> dict[str, Any]:
        source: dict[str, Any] = {"pointer": self.pointer}
        if self.parameter is not None:
            source["parameter"] = self.parameter
        return {"title": self.title, "details": self.details, "source": source}


def reason(status: int) -> str:
    """The standard reason phrase, or a generic one for codes http.HTTPStatus does not know."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_body(status: int, message: str, errors: Sequence[FieldError] = ()) -> dict[str, Any]:
    """``{"message", "errors", "StatusCode"}``; ``errors`` is never empty so clients can rely on it."""
    entries = list(errors) or [FieldError(reason(status), message)]
    return {"message": message, "errors": [e.to_json() for e in entries], "StatusCode": status}


class ApiError(Exception):
    """Raised by any layer of the sandbox; the server turns it into the error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: Sequence[FieldError] = (),
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = tuple(errors)
        self.headers = tuple(headers)

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.message, self.errors)


def bad_request(message: str, pointer: str = "", title: str = "Invalid request") -> ApiError:
    return ApiError(400, message, [FieldError(title, message, pointer)])


def bad_parameter(name: str, location: str, message: str) -> ApiError:
    """A 400 for a query or path parameter, pointing at ``/<location>/<name>``."""
    title = f"Invalid {location} parameter"
    return ApiError(400, message, [FieldError(title, message, f"/{location}/{name}", name)])


def not_found(message: str, pointer: str = "") -> ApiError:
    return ApiError(404, message, [FieldError("Not Found", message, pointer)])


def conflict(message: str, pointer: str = "") -> ApiError:
    return ApiError(409, message, [FieldError("Conflict", message, pointer)])
