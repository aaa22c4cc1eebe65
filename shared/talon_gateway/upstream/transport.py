"""The HTTP adapter: one keep-alive connection pool per execution environment.

Requests to Talon.One go straight to httpcore's connection pool (over h11), not through
httpx: the gateway uses none of httpx's conveniences (cookie jar, auth flows, redirects,
base-URL merging, header and URL models), and on the hot path building its request and
response objects cost more than the exchange itself (bench/, README "Performance"). What
httpx added on the way is added here: ``Host`` and ``Content-Length``, a gzip or deflate
body decoded.

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
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from types import FrameType
from urllib.parse import urlsplit

import certifi
import httpcore

from talon_gateway.config import get_settings
from talon_gateway.errors import UpstreamTimeout, UpstreamUnavailable
from talon_gateway.upstream.request import UpstreamRequest

_pool: httpcore.ConnectionPool | None = None
# Methods whose request carries a Content-Length even without a body (as httpx sent them).
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


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

    The default context loads the system's CAs and then certifi's: twice the work (about
    45 ms each on the benchmark machine) on every cold start for no additional trust.
    """
    return ssl.create_default_context(cafile=certifi.where())


def get_pool() -> httpcore.ConnectionPool:
    """The connection pool toward Talon.One, built on first use and reused while warm.

    Proxy and certificate settings come from code, never from ambient variables.
    """
    global _pool  # noqa: PLW0603 - one pool per execution environment is the point
    if _pool is None:
        _pool = httpcore.ConnectionPool(
            ssl_context=ssl_context(), max_connections=10, max_keepalive_connections=10, keepalive_expiry=50
        )
    return _pool


def reset_client() -> None:
    """Drop the pool: after a SnapStart restore its sockets belong to another environment."""
    global _pool  # noqa: PLW0603
    if _pool is not None:
        _pool.close()
    _pool = None


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: bytes
    host: bytes
    port: int
    header: bytes  # the Host header's value


@cache
def _origin(base_url: str) -> _Origin:
    """A base URL (validated by config: absolute, no query) split once for every request."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    default = 443 if parts.scheme == "https" else 80
    port = parts.port or default
    name = f"[{host}]" if ":" in host else host
    header = name if port == default else f"{name}:{port}"
    return _Origin(parts.scheme.encode(), host.encode("idna"), port, header.encode("ascii"))


def _decoded(body: bytes, encoding: str | None) -> bytes:
    """The body without its Content-Encoding (gzip and deflate; identity otherwise)."""
    match (encoding or "").strip().lower():
        case "gzip" | "x-gzip":
            return zlib.decompress(body, zlib.MAX_WBITS | 16)
        case "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:  # raw deflate, without the zlib header
                return zlib.decompress(body, -zlib.MAX_WBITS)
        case _:
            return body


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

    httpcore's timeouts apply per connect and per read: a server trickling a byte now and then
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
    # The application's deployment when the request names one (multi-application).
    origin = _origin(getattr(request, "base_url", None) or get_settings().talon_base_url)
    headers = [(b"Host", origin.header)]
    headers += [(name.encode("ascii"), value.encode("ascii")) for name, value in request.headers.items()]
    if request.body is not None or request.method in _BODY_METHODS:
        headers.append((b"Content-Length", str(len(request.body or b"")).encode()))
    outgoing = httpcore.Request(
        request.method,
        httpcore.URL(scheme=origin.scheme, host=origin.host, port=origin.port, target=request.target),
        headers=headers,
        content=request.body or b"",
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
    except httpcore.ConnectTimeout:
        raise UpstreamTimeout("connecting to Talon.One timed out", sent=False) from None
    except httpcore.PoolTimeout:
        raise UpstreamTimeout("no free connection to Talon.One", sent=False) from None
    except httpcore.TimeoutException:
        raise UpstreamTimeout("Talon.One did not answer in time") from None
    except httpcore.ConnectError:
        raise UpstreamUnavailable("cannot connect to Talon.One", sent=False) from None
    except (
        httpcore.NetworkError,
        httpcore.ProtocolError,
        httpcore.ProxyError,
        httpcore.UnsupportedProtocol,
    ) as exc:
        raise UpstreamUnavailable(f"connection to Talon.One failed ({type(exc).__name__})") from None
    found = {name.lower(): value for name, value in response.headers}
    try:
        body = _decoded(body, found.get(b"content-encoding", b"").decode("latin-1"))
    except zlib.error:
        raise UpstreamUnavailable("Talon.One's answer could not be decoded") from None
    content_type = found.get(b"content-type")
    retry_after = found.get(b"retry-after")
    return UpstreamResponse(
        status=response.status,
        content_type=content_type.decode("latin-1") if content_type is not None else None,
        body=body,
        retry_after=parse_retry_after(retry_after.decode("latin-1") if retry_after is not None else None),
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )
