"""The httpx adapter: one keep-alive connection pool per execution environment.

Requests to Talon.One go straight to httpx's HTTP transport (its connection pool over
httpcore and h11), not through ``httpx.Client``: the gateway uses none of the client's
conveniences (cookie jar, auth flows, redirects, base-URL merging), and on the hot path
they cost more than validating the request (bench/, README "Performance").

Transport failures become typed errors that say whether the request may have reached
Talon.One (``sent``), which is what decides if a retry is safe. A real-time watchdog bounds
each exchange as a whole.
"""

from __future__ import annotations

import email.utils
import signal
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from types import FrameType
from typing import Any

import certifi
import httpx

from talon_gateway.errors import UpstreamTimeout, UpstreamUnavailable
from talon_gateway.upstream.request import UpstreamRequest

# Replaces the network for every outgoing request (benchmarks); None: real HTTP.
_override: httpx.BaseTransport | None = None
_pool: httpx.BaseTransport | None = None


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    content_type: str | None
    body: bytes
    retry_after: float | None
    elapsed_ms: float


@cache
def ssl_context() -> ssl.SSLContext:
    """TLS toward Talon.One, trusting certifi's CA bundle only.

    httpcore's default loads the system's CAs and then certifi's: twice the work (about 45 ms
    each on the benchmark machine) on every cold start for no additional trust.
    """
    return ssl.create_default_context(cafile=certifi.where())


def _new_pool(*, verify: ssl.SSLContext | bool, **options: Any) -> httpx.BaseTransport:
    if _override is not None:
        return _override
    # Proxy and certificate settings come from code, not from ambient variables.
    return httpx.HTTPTransport(verify=verify, trust_env=False, **options)


def get_pool() -> httpx.BaseTransport:
    """The connection pool toward Talon.One, built on first use and reused while warm."""
    global _pool  # noqa: PLW0603 - one pool per execution environment is the point
    if _pool is None:
        limits = httpx.Limits(max_connections=10, max_keepalive_connections=10, keepalive_expiry=50)
        _pool = _new_pool(verify=ssl_context(), limits=limits)
    return _pool


def reset_client() -> None:
    """Drop the pool: after a SnapStart restore its sockets belong to another environment."""
    global _pool  # noqa: PLW0603
    if _pool is not None and _pool is not _override:
        _pool.close()
    _pool = None


def use_transport(transport: httpx.BaseTransport | None) -> None:
    """Answer every outgoing HTTP request with ``transport`` (benchmarks), or restore the network."""
    global _override  # noqa: PLW0603 - a deliberate seam, set before the first invocation
    _override = transport
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


_armed = False


def _expire(signum: int, frame: FrameType | None) -> None:
    if _armed:
        raise _ExchangeTooLong


@contextmanager
def _watchdog(seconds: float) -> Iterator[None]:
    """Bound a whole exchange in time, not just each socket operation.

    httpx's timeouts apply per connect and per read: a server trickling a byte now and then
    would never trip them. A real-time timer (SIGALRM, on the main thread as in Lambda) cuts
    the exchange at the deadline; elsewhere the per-operation timeouts are the only bound.
    """
    global _armed  # noqa: PLW0603 - the signal handler's switch
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGALRM) is not _expire:
        signal.signal(signal.SIGALRM, _expire)
    _armed = True
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _armed = False


def send(
    request: UpstreamRequest, *, connect_timeout: float, read_timeout: float, total: float
) -> UpstreamResponse:
    """One HTTP exchange with Talon.One: each operation bounded by its timeout, the whole by ``total``."""
    pool = get_pool()
    timeouts = {
        "connect": connect_timeout,
        "read": read_timeout,
        "write": read_timeout,
        "pool": connect_timeout,
    }
    outgoing = httpx.Request(
        request.method,
        request.base_url + request.target,
        headers=request.headers,
        content=request.body,
        extensions={"timeout": timeouts},
    )
    started = time.perf_counter()
    try:
        with _watchdog(total):
            response = pool.handle_request(outgoing)
            try:
                body = response.read()
            finally:
                response.close()
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
        body=body,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )
