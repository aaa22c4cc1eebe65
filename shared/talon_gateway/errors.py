"""Typed failures raised by the gateway's logic; http_errors.py turns each into a response.

Messages here are fixed texts chosen by the gateway: never a secret, a customer's data or an
upstream body (those travel in dedicated attributes and are only passed through where the
error contract says so).
"""

from __future__ import annotations

from dataclasses import dataclass


class GatewayError(Exception):
    """Base of every failure the gateway reports to its caller."""


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One invalid part of a request: a JSON pointer into the body, or a parameter name."""

    title: str
    details: str
    pointer: str | None = None
    parameter: str | None = None


class InvalidRequest(GatewayError):
    """The request is malformed in a way found before (or instead of) model validation."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("invalid request")
        self.problems = problems


class PayloadTooLarge(GatewayError):
    def __init__(self, limit: int) -> None:
        super().__init__("payload too large")
        self.limit = limit


class UnsupportedMediaType(GatewayError):
    pass


class Unauthenticated(GatewayError):
    """The caller of the gateway could not be authenticated (inbound)."""

    def __init__(self, reason: str) -> None:
        # reason is one of a few fixed words for logs and metrics; never the credential.
        super().__init__(reason)
        self.reason = reason


class Forbidden(GatewayError):
    """The caller is authenticated, but its credentials do not allow this operation (403)."""

    def __init__(self, operation: str, *, application: str | None = None) -> None:
        super().__init__(operation)
        self.operation = operation
        self.application = application  # set when the application is what is out of scope


class IdempotencyKeyReused(GatewayError):
    """The idempotency key was already used with another request (422)."""


class IdempotencyInProgress(GatewayError):
    """A request with this idempotency key is still being delivered (409, Retry-After)."""


class IdempotencyStoreUnavailable(GatewayError):
    """The idempotency store cannot be reached: nothing may be delivered (503, Retry-After)."""


class QueueUnavailable(GatewayError):
    """An asynchronous write could not be queued: nothing was accepted (503, Retry-After)."""


class ShopNotConfigured(GatewayError):
    """A verified Shopify webhook from a shop that no Talon.One application serves (403)."""


class DeliveryNotFound(GatewayError):
    """No delivery with this id (unknown, or expired with its idempotency period): 404."""


class ConfigurationError(GatewayError):
    """The deployment is misconfigured (environment or secret content).

    The message is for operators (logs); ``public_detail``, when set, is safe to show callers.
    """

    def __init__(self, message: str, *, public_detail: str | None = None) -> None:
        super().__init__(message)
        self.public_detail = public_detail


class SecretsUnavailable(GatewayError):
    """Secrets Manager could not be read and no earlier value is cached."""


class UpstreamError(GatewayError):
    """Talon.One did not give a usable answer."""

    def __init__(self, message: str, *, retry_after: float | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.attempts = attempts


class UpstreamRejected(UpstreamError):
    """Talon.One answered 4xx (other than 401/403): its status and body go back unchanged."""

    def __init__(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        *,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(f"Talon.One answered {status}", retry_after=retry_after, attempts=attempts)
        self.status = status
        self.body = body
        self.content_type = content_type


class UpstreamAuthRejected(UpstreamError):
    """Talon.One refused the gateway's own credentials (401/403), even after a refetch."""

    def __init__(self, status: int, *, attempts: int = 1) -> None:
        super().__init__(f"Talon.One refused the gateway's credentials ({status})", attempts=attempts)
        self.status = status


class UpstreamUnavailable(UpstreamError):
    """Talon.One failed (5xx), or the connection failed or was dropped."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        sent: bool = True,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, retry_after=retry_after, attempts=attempts)
        self.status = status
        self.sent = sent  # False when nothing reached Talon.One (connect failure): always safe to retry


class UpstreamTimeout(UpstreamError):
    """No answer from Talon.One within the deadline."""

    def __init__(self, message: str, *, sent: bool = True, attempts: int = 1) -> None:
        super().__init__(message, attempts=attempts)
        self.sent = sent


class UpstreamMalformed(UpstreamError):
    """Talon.One answered with a body that is not the JSON it promised."""

    def __init__(self, status: int, length: int, *, attempts: int = 1) -> None:
        super().__init__("Talon.One answered a malformed body", attempts=attempts)
        self.status = status
        self.length = length
