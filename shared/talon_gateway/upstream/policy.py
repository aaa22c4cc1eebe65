"""Calling Talon.One: one operation, retried only when it is safe, never past the deadline.

Retry policy (tenacity, exponential backoff with full jitter, bounded by the deadline):
- any method: nothing was sent (connect failure), 409 (Talon.One refused a concurrent update,
  nothing was processed), 429 (honouring Retry-After);
- GET, PUT, DELETE, and POST carrying an Idempotency-Key: also timeouts, dropped connections,
  malformed answers, 502, 503, 504 (the request may have been processed; repeating it is
  harmless);
- never any other 4xx, nor a 500.
A 401/403 refetches the credentials once, bypassing the cache (the key may have been rotated),
and repeats the request once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

from pydantic_core import from_json
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from talon_gateway.config import get_settings
from talon_gateway.errors import (
    UpstreamAuthRejected,
    UpstreamError,
    UpstreamMalformed,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from talon_gateway.observability import MetricUnit, get_tracer, logger, metrics
from talon_gateway.operation import Operation
from talon_gateway.upstream import transport
from talon_gateway.upstream.credentials import get_talon_credentials
from talon_gateway.upstream.request import build_request
from talon_gateway.upstream.transport import UpstreamResponse

MAX_ATTEMPTS = 4
# API Gateway (REST) gives up on an integration after 29 s; stop well before either limit.
API_GATEWAY_TIMEOUT = 29.0
DEADLINE_MARGIN = 0.5
# An attempt with less time than this left cannot succeed; do not start it.
MIN_ATTEMPT_TIME = 0.05
# A Retry-After longer than this is not waited for inside the Lambda (billed idle time): the
# caller gets the answer with its Retry-After and retries later.
MAX_RETRY_AFTER = 3.0
_RETRYABLE_AFTER_SEND = frozenset({502, 503, 504})
_backoff = wait_random_exponential(multiplier=0.1, max=2.0)


@dataclass(frozen=True, slots=True)
class Deadline:
    """The monotonic instant by which the whole exchange, retries included, must end."""

    at: float

    @classmethod
    def within(cls, lambda_remaining_ms: int | None) -> Deadline:
        budget = API_GATEWAY_TIMEOUT
        if lambda_remaining_ms is not None:
            budget = min(budget, lambda_remaining_ms / 1000)
        return cls(time.monotonic() + budget - DEADLINE_MARGIN)

    def remaining(self) -> float:
        return self.at - time.monotonic()


class _OutOfTime(stop_base):
    """Stop when the next attempt could not start, after its pause, with enough time left."""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        if retry_state.upcoming_sleep > MAX_RETRY_AFTER:
            return True
        return self.deadline.remaining() - retry_state.upcoming_sleep < MIN_ATTEMPT_TIME


def _is_retryable(operation: Operation, idempotency_key: str | None, exc: BaseException) -> bool:
    if isinstance(exc, UpstreamRejected):
        return exc.status in (409, 429)
    if isinstance(exc, UpstreamTimeout | UpstreamUnavailable) and not exc.sent:
        return True
    repeatable = operation.method != "POST" or idempotency_key is not None
    if isinstance(exc, UpstreamTimeout | UpstreamMalformed):
        return repeatable
    if isinstance(exc, UpstreamUnavailable):
        return repeatable and (exc.status is None or exc.status in _RETRYABLE_AFTER_SEND)
    return False


def _classify(operation: Operation, response: UpstreamResponse) -> UpstreamResponse:
    """Return a usable 2xx answer, or raise the typed error that describes the others."""
    status = response.status
    if 200 <= status < 300:
        if status != 204 and response.body:
            try:
                from_json(response.body)  # also refuses bytes that are not UTF-8
            except ValueError:
                logger.error(
                    "malformed upstream body",
                    extra={"operation": operation.name, "status": status, "length": len(response.body)},
                )
                raise UpstreamMalformed(status, len(response.body)) from None
        return response
    if status in (401, 403):
        raise UpstreamAuthRejected(status)
    if 400 <= status < 500:
        raise UpstreamRejected(status, response.body, response.content_type, retry_after=response.retry_after)
    if status >= 500:
        raise UpstreamUnavailable(
            f"Talon.One answered {status}", status=status, retry_after=response.retry_after
        )
    raise UpstreamUnavailable(f"unexpected status {status} from Talon.One", status=status)


def call(
    operation: Operation,
    *,
    path_values: Mapping[str, str],
    deadline: Deadline,
    query: Sequence[tuple[str, str]] = (),
    body: bytes | None = None,
    idempotency_key: str | None = None,
    application: str | None = None,
) -> UpstreamResponse:
    """Send one operation to Talon.One (``application``'s, None: the default one); return its
    2xx answer or raise an ``UpstreamError``."""
    settings = get_settings()
    credentials = get_talon_credentials(application)
    attempts = 0

    def exchange() -> UpstreamResponse:
        nonlocal attempts
        attempts += 1
        remaining = deadline.remaining()
        if remaining < MIN_ATTEMPT_TIME:
            raise UpstreamTimeout("deadline reached before Talon.One answered", sent=False)
        request = build_request(
            operation,
            credentials,
            path_values=path_values,
            query=query,
            body=body,
            idempotency_key=idempotency_key,
        )
        tracer = get_tracer()
        with (
            tracer.provider.in_subsegment(f"## talon.{operation.name}") if tracer else nullcontext()
        ) as subsegment:
            response = transport.send(
                request,
                connect_timeout=min(settings.connect_timeout, remaining),
                read_timeout=min(settings.read_timeout, remaining),
                total=remaining,
            )
            if subsegment is not None:
                subsegment.put_annotation("status", str(response.status))
        metrics.add_metric("UpstreamLatency", MetricUnit.Milliseconds, response.elapsed_ms)
        metrics.add_metric(f"UpstreamStatus{response.status // 100}xx", MetricUnit.Count, 1)
        return _classify(operation, response)

    def exchange_with_rotation() -> UpstreamResponse:
        nonlocal credentials
        try:
            return exchange()
        except UpstreamAuthRejected:
            # The key may have been rotated since it was cached: read it again, once.
            metrics.add_metric("UpstreamCredentialsRefetched", MetricUnit.Count, 1)
            credentials = get_talon_credentials(application, force_fetch=True)
            try:
                return exchange()
            except UpstreamAuthRejected:
                metrics.add_metric("UpstreamCredentialsRejected", MetricUnit.Count, 1)
                raise

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, UpstreamError) and exc.retry_after is not None:
            return exc.retry_after
        return float(_backoff(state))

    def log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        logger.warning(
            "retrying Talon.One",
            extra={
                "operation": operation.name,
                "attempt": state.attempt_number,
                "reason": type(exc).__name__,
                "sleep_s": round(state.upcoming_sleep, 3),
            },
        )
        metrics.add_metric("UpstreamRetries", MetricUnit.Count, 1)

    retrying = Retrying(
        retry=retry_if_exception(lambda exc: _is_retryable(operation, idempotency_key, exc)),
        wait=wait,
        stop=stop_any(stop_after_attempt(MAX_ATTEMPTS), _OutOfTime(deadline)),
        before_sleep=log_retry,
        reraise=True,
    )
    try:
        return retrying(exchange_with_rotation)
    except UpstreamError as exc:
        exc.attempts = attempts
        raise
