"""The httpx adapter: one keep-alive client per execution environment, one exchange per call.

Transport failures become typed errors that say whether the request may have reached
Talon.One (``sent``), which is what decides if a retry is safe.
"""

from __future__ import annotations

import email.utils
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

import httpx

from talon_gateway.config import get_settings
from talon_gateway.errors import UpstreamTimeout, UpstreamUnavailable
from talon_gateway.signing import UpstreamRequest

_client: httpx.Client | None = None
# A transport that answers in place of the network (benchmarks); None: real HTTP.
_transport: httpx.BaseTransport | None = None


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    content_type: str | None
    body: bytes
    retry_after: float | None
    elapsed_ms: float


def new_client(*, base_url: str, timeout: httpx.Timeout, **options: Any) -> httpx.Client:
    """An httpx client as the gateway builds them all (Talon.One, the secrets extension)."""
    return httpx.Client(
        base_url=base_url,
        timeout=timeout,
        follow_redirects=False,
        # Proxy and certificate settings come from code, not from ambient variables.
        trust_env=False,
        transport=_transport,
        **options,
    )


def get_client() -> httpx.Client:
    """The client toward Talon.One, built on first use (never at import) and reused while warm."""
    global _client  # noqa: PLW0603 - one pool per execution environment is the point
    if _client is None:
        settings = get_settings()
        _client = new_client(
            base_url=settings.talon_base_url,
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            limits=httpx.Limits(max_connections=10, max_keepalive_connections=10, keepalive_expiry=50),
        )
    return _client


def reset_client() -> None:
    """Drop the pool: after a SnapStart restore its sockets belong to another environment."""
    global _client  # noqa: PLW0603
    if _client is not None:
        _client.close()
        _client = None


def use_transport(transport: httpx.BaseTransport | None) -> None:
    """Answer every outgoing HTTP request with ``transport`` (benchmarks), or restore the network."""
    global _transport  # noqa: PLW0603 - a deliberate seam, set before the first invocation
    _transport = transport
    reset_client()


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _ExchangeTooLong(Exception):
    """Raised by the watchdog when a whole exchange outlives its time budget."""


def _expire(signum: int, frame: FrameType | None) -> None:
    raise _ExchangeTooLong


@contextmanager
def _watchdog(seconds: float) -> Iterator[None]:
    """Bound a whole exchange in time, not just each socket operation.

    httpx's timeouts apply per connect and per read: a server trickling a byte now and then
    would never trip them. A real-time timer (SIGALRM, on the main thread as in Lambda) cuts
    the exchange at the deadline; elsewhere the per-operation timeouts are the only bound.
    """
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def send(
    request: UpstreamRequest, *, connect_timeout: float, read_timeout: float, total: float
) -> UpstreamResponse:
    """One HTTP exchange with Talon.One: each operation bounded by its timeout, the whole by ``total``."""
    client = get_client()
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout)
    started = time.perf_counter()
    try:
        with _watchdog(total):
            response = client.request(
                request.method, request.target, headers=request.headers, content=request.body, timeout=timeout
            )
    except _ExchangeTooLong:
        reset_client()  # the interrupted connection is in no state to be reused
        raise UpstreamTimeout("Talon.One did not answer in time") from None
    except httpx.ConnectTimeout:
        raise UpstreamTimeout("connecting to Talon.One timed out", sent=False) from None
    except httpx.PoolTimeout:
        raise UpstreamTimeout("no free connection to Talon.One", sent=False) from None
    except httpx.TimeoutException:
        raise UpstreamTimeout("Talon.One did not answer in time") from None
    except httpx.ConnectError:
        raise UpstreamUnavailable("cannot connect to Talon.One", sent=False) from None
    except httpx.TransportError as exc:
        raise UpstreamUnavailable(f"connection to Talon.One failed ({type(exc).__name__})") from None
    return UpstreamResponse(
        status=response.status_code,
        content_type=response.headers.get("content-type"),
        body=response.content,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )
