"""The httpx adapter: one keep-alive client per execution environment, one exchange per call.

Transport failures become typed errors that say whether the request may have reached
Talon.One (``sent``), which is what decides if a retry is safe.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass

import httpx

from talon_gateway.config import get_settings
from talon_gateway.errors import UpstreamTimeout, UpstreamUnavailable
from talon_gateway.signing import UpstreamRequest

_client: httpx.Client | None = None


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    content_type: str | None
    body: bytes
    retry_after: float | None
    elapsed_ms: float


def get_client() -> httpx.Client:
    """The shared client, built on first use (never at import) and reused while warm."""
    global _client  # noqa: PLW0603 - one pool per execution environment is the point
    if _client is None:
        settings = get_settings()
        _client = httpx.Client(
            base_url=settings.talon_base_url,
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            limits=httpx.Limits(max_connections=10, max_keepalive_connections=10, keepalive_expiry=50),
            follow_redirects=False,
            # Proxy and certificate settings come from code, not from ambient variables.
            trust_env=False,
        )
    return _client


def reset_client() -> None:
    """Drop the pool: after a SnapStart restore its sockets belong to another environment."""
    global _client  # noqa: PLW0603
    if _client is not None:
        _client.close()
        _client = None


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


def send(request: UpstreamRequest, *, connect_timeout: float, read_timeout: float) -> UpstreamResponse:
    """One HTTP exchange with Talon.One, bounded by the given timeouts."""
    client = get_client()
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout)
    started = time.perf_counter()
    try:
        response = client.request(
            request.method, request.target, headers=request.headers, content=request.body, timeout=timeout
        )
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
