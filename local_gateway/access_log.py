"""`make run`'s access log: one line per request on stdout, the local twin of the stage's log.

    2026-12-01T10:00:00.123Z PUT /v2/customer_sessions/{customerSessionId} 200 41ms id=5f0c… replayed

Fields: time (UTC), method, route, status, latency, the answer's X-Correlation-Id (the key to
the functions' log lines of that request), then ``replayed`` (Idempotent-Replayed) or ``queued``
(a 202). The route is the resource path, as template.yaml's AccessLogSetting logs it: path
values are customers' ids (profiles, sessions, coupons), so they are left out here too, as are
the query string, headers and bodies. A request no route matches logs ``-`` as its route.
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime
from typing import TextIO

NO_ROUTE = "-"  # one field, like every other: the line splits on spaces


def format_line(
    *,
    when: datetime,
    method: str,
    route: str,
    status: int,
    latency_ms: float,
    correlation_id: str | None,
    replayed: bool,
) -> str:
    stamp = when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    fields = [stamp, method, route, str(status), f"{latency_ms:.0f}ms", f"id={correlation_id or '-'}"]
    if replayed:
        fields.append("replayed")
    if status == 202:
        fields.append("queued")
    return " ".join(fields)


class AccessLog:
    """Writes whole lines under a lock: requests finish on many threads at once."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def record(
        self,
        *,
        method: str,
        route: str,
        status: int,
        latency_ms: float,
        correlation_id: str | None,
        replayed: bool,
    ) -> None:
        line = format_line(
            when=datetime.now(tz=UTC),
            method=method,
            route=route,
            status=status,
            latency_ms=latency_ms,
            correlation_id=correlation_id,
            replayed=replayed,
        )
        self.write(line)

    def write(self, line: str) -> None:
        """One whole line (also the asynchronous deliveries' lines of `make run`)."""
        stream = self._stream or sys.stdout  # looked up late: tests swap sys.stdout
        with self._lock:
            stream.write(line + "\n")
            stream.flush()
