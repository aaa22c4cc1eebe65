"""Talon.One's error shape, shared by every non-2xx answer of the sandbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldError:
    """One entry of ``errors``: ``pointer`` is a JSON pointer into the request ("" = whole request)."""

    title: str
    details: str
    pointer: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "details": self.details, "source": {"pointer": self.pointer}}


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


def not_found(message: str, pointer: str = "") -> ApiError:
    return ApiError(404, message, [FieldError("Not Found", message, pointer)])
