"""Injected failures for resilience tests: faults consumed by the next matching requests.

A fault applies to a number of requests (``count``), for a time window (``duration_s``), or
both, whichever runs out first: "answer 503 for the next 2 seconds" is
``Fault("*", "status", status=503, duration_s=2)``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

FaultAction = Literal["latency", "status", "drop", "drop_after_processing", "malformed", "respond"]
FAULT_ACTIONS: frozenset[str] = frozenset(get_args(FaultAction))
ANY_OPERATION = "*"
# Actions that answer without running the operation: nothing is committed.
SHORT_CIRCUIT: frozenset[str] = frozenset({"status", "drop", "respond"})
_FIELDS = frozenset(
    {"operation", "action", "count", "status", "retry_after", "latency_ms", "body", "duration_s"}
)


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to the matching requests of ``operation`` (an operationId or ``"*"``).

    ``count`` requests, or every request for ``duration_s`` seconds after the fault is added,
    or at most ``count`` within ``duration_s``; without either, the next request only.
    ``latency_ms`` delays any action (for ``latency`` it is the whole point); ``status`` is the
    answer of ``status``/``respond``/``malformed``; ``body`` replaces the error shape of ``status``
    and is the verbatim JSON of ``respond``; ``retry_after`` adds a ``Retry-After`` header.
    """

    operation: str
    action: FaultAction
    count: int | None = None
    status: int | None = None
    retry_after: int | None = None
    latency_ms: int | None = None
    body: Any = None
    duration_s: float | None = None

    def __post_init__(self) -> None:
        if self.action not in FAULT_ACTIONS:
            raise ValueError(f"action must be one of {sorted(FAULT_ACTIONS)}, got {self.action!r}")
        for name in ("count", "status", "retry_after", "latency_ms"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ValueError(f"{name} must be an integer")
        duration = self.duration_s
        if duration is not None and (
            isinstance(duration, bool)
            or not isinstance(duration, int | float)
            or not math.isfinite(duration)
            or duration <= 0
        ):
            raise ValueError("duration_s must be a positive number of seconds")
        if self.count is None and duration is None:
            object.__setattr__(self, "count", 1)  # frozen: the default of a count-only fault
        if self.count is not None and self.count < 1:
            raise ValueError("count must be at least 1")
        # 1xx would break HTTP framing: a fault answers with a final status.
        if self.status is not None and not 200 <= self.status <= 599:
            raise ValueError("status must be a final HTTP status code (200-599)")
        if self.action == "status" and self.status is None:
            raise ValueError("action 'status' needs a status")
        if self.action == "respond" and self.body is None:
            raise ValueError("action 'respond' needs a body")
        if self.action == "latency" and self.latency_ms is None:
            raise ValueError("action 'latency' needs latency_ms")
        if self.latency_ms is not None and self.latency_ms < 0:
            raise ValueError("latency_ms must not be negative")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after must not be negative")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        """Build from the admin endpoint's JSON (same names as ``Sandbox.add_fault``)."""
        unknown = set(data) - _FIELDS
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        operation, action = data.get("operation", ANY_OPERATION), data.get("action")
        if not isinstance(operation, str) or not isinstance(action, str):
            raise ValueError("operation and action must be strings")
        return cls(
            operation=operation,
            action=cast("FaultAction", action),
            count=data.get("count"),
            status=data.get("status"),
            retry_after=data.get("retry_after"),
            latency_ms=data.get("latency_ms"),
            body=data.get("body"),
            duration_s=data.get("duration_s"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "action": self.action,
            "count": self.count,
            "status": self.status,
            "retry_after": self.retry_after,
            "latency_ms": self.latency_ms,
            "body": self.body,
            "duration_s": self.duration_s,
        }


@dataclass(slots=True)
class _Pending:
    fault: Fault
    remaining: int | None  # None: as many as arrive before the deadline
    deadline: float | None  # time.monotonic() after which the fault no longer applies


@dataclass
class FaultQueue:
    """Faults in the order they were added; each request consumes at most one."""

    operations: Collection[str]
    _pending: list[_Pending] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault) -> None:
        if fault.operation != ANY_OPERATION and fault.operation not in self.operations:
            raise ValueError(f"unknown operation {fault.operation!r}; use an operationId or '*'")
        deadline = None if fault.duration_s is None else time.monotonic() + fault.duration_s
        with self._lock:
            self._pending.append(_Pending(fault, fault.count, deadline))

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def _expire(self, now: float) -> None:
        self._pending = [p for p in self._pending if p.deadline is None or now < p.deadline]

    def take(self, operation: str) -> Fault | None:
        """Consume one use of the oldest live fault matching ``operation``."""
        with self._lock:
            if not self._pending:
                return None
            self._expire(time.monotonic())
            for index, pending in enumerate(self._pending):
                if pending.fault.operation in (operation, ANY_OPERATION):
                    if pending.remaining is not None:
                        pending.remaining -= 1
                        if pending.remaining == 0:
                            del self._pending[index]
                    return pending.fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        """Live faults: ``count`` is what is left of each (None: unlimited until it expires),
        ``expires_in_s`` the seconds left of a time-based one."""
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            return [
                {
                    **p.fault.to_json(),
                    "count": p.remaining,
                    "expires_in_s": None if p.deadline is None else round(max(p.deadline - now, 0.0), 3),
                }
                for p in self._pending
            ]
