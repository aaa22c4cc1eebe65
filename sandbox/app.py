"""Transport-independent request handling: routing, faults, auth, validation, operations, admin.

The HTTP layer (server.py) turns bytes into a Request and writes back the Reply; everything
Talon.One-specific happens here. The state sits behind one lock; writes also hold their
entity (session or profile) while they are processed, so a parallel write to the same entity
gets Talon.One's 409 instead of waiting.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict
from urllib.parse import parse_qsl

from sandbox.auth import authenticate
from sandbox.credentials import SandboxCredentials
from sandbox.errors import (
    CONCURRENT_PROFILE_MESSAGE,
    CONCURRENT_SESSION_MESSAGE,
    ApiError,
    bad_request,
    conflict,
    error_body,
    not_found,
    reason,
)
from sandbox.faults import SHORT_CIRCUIT, Fault, FaultQueue
from sandbox.model import iso
from sandbox.operations import HANDLERS, Call, Handler
from sandbox.seed import Seed
from sandbox.spec import Operation, Spec, parse_json
from sandbox.store import Store

logger = logging.getLogger("sandbox")

ADMIN_PREFIX = "/_sandbox"
JSON_HEADERS = (("Content-Type", "application/json"),)
# Default messages of the `status` fault; 409 is Talon.One's own wording for concurrent updates.
FAULT_MESSAGES = {
    409: CONCURRENT_SESSION_MESSAGE,
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}
MALFORMED_BODY = b'{"effects": [{"campaignId": 1, "effectType": "setDisc'
# Writes that Talon.One refuses with 409 while another write to the same entity is in flight.
SESSION_WRITES = frozenset(
    {"updateCustomerSessionV2", "returnCartItems", "reopenCustomerSession", "updateCustomerSession"}
)
PROFILE_WRITES = frozenset({"updateCustomerProfileV2", "updateCustomerProfile"})
EVENT_WRITES = frozenset({"trackEventV2", "trackEventV3", "trackEvent"})
# returnCartItems documents Idempotency-Key: answers kept 24 h, keys up to 255 characters.
IDEMPOTENT_OPERATIONS = frozenset({"returnCartItems"})
IDEMPOTENCY_TTL_S = 24 * 3600
IDEMPOTENCY_KEY_MAX = 255

Transport = Literal["normal", "drop", "truncate"]
EntityKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    target: str  # the request target exactly as received (percent-encoded path and query)
    headers: tuple[tuple[str, str], ...]
    body: bytes
    client_host: str = "127.0.0.1"

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer; ``drop`` closes without answering, ``truncate`` sends half a body and closes."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    transport: Transport = "normal"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as received: path still percent-encoded, headers in order and case."""

    operation: str | None  # None when the path matched no operation
    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    time: datetime

    def header(self, name: str) -> str | None:
        """First value of a header, looked up case-insensitively."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def json(self) -> Any:
        return json.loads(self.body)

    def to_json(self) -> dict[str, Any]:
        try:
            body, encoding = self.body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            body, encoding = base64.b64encode(self.body).decode("ascii"), "base64"
        return {
            "operation": self.operation,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": [[k, v] for k, v in self.headers],
            "body": body,
            "bodyEncoding": encoding,
            "time": iso(self.time),
        }


class OperationCounts(TypedDict):
    received: int
    processed: int  # requests whose operation finished with a 2xx status (writes: committed)


def encode(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_reply(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(status, encode(payload), JSON_HEADERS + headers)


def error_reply(error: ApiError) -> Reply:
    return json_reply(error.status, error.body(), error.headers)


def _entity_keys(
    op: Operation, path: Mapping[str, Any], query: Mapping[str, Any], body: Any
) -> list[EntityKey]:
    """The session and profile a write updates; dry runs change nothing and hold nothing."""
    operation_id = op.operation_id
    if query.get("dry"):
        return []
    if operation_id in SESSION_WRITES:
        return [("session", path["customerSessionId"])]
    if operation_id in PROFILE_WRITES:
        return [("profile", path["integrationId"])]
    if operation_id in EVENT_WRITES and isinstance(body, dict):
        keys: list[EntityKey] = []
        if body.get("sessionId"):
            keys.append(("session", body["sessionId"]))
        if body.get("profileId"):
            keys.append(("profile", body["profileId"]))
        return keys
    return []


class SandboxApp:
    def __init__(
        self,
        credentials: SandboxCredentials,
        seed: Seed,
        spec: Spec,
        stopping: threading.Event,
        processing_delay_ms: int = 0,
    ) -> None:
        self.spec = spec
        self.seed = seed
        self._credentials = credentials
        self._stopping = stopping
        self._lock = threading.Lock()
        self.store = Store(seed, int(credentials.application_id))
        self.faults = FaultQueue(frozenset(spec.operations))
        self._log: list[RecordedRequest] = []
        self._counts = self._zero_counts()
        self._busy: set[EntityKey] = set()
        self._busy_lock = threading.Lock()
        self._idempotent: dict[tuple[str, str], tuple[float, Reply]] = {}
        self.processing_delay_ms = processing_delay_ms
        self._handlers: dict[str, Handler] = dict(HANDLERS)
        missing = set(spec.operations) ^ set(self._handlers)
        if missing:
            raise ValueError(f"spec and sandbox disagree on operations: {sorted(missing)}")

    # -- control (used by Sandbox and the admin endpoints) -------------------------------------

    def _zero_counts(self) -> dict[str, OperationCounts]:
        return {op: OperationCounts(received=0, processed=0) for op in self.spec.operations}

    @property
    def credentials(self) -> SandboxCredentials:
        return self._credentials

    @property
    def processing_delay_ms(self) -> int:
        return self._processing_delay_ms

    @processing_delay_ms.setter
    def processing_delay_ms(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError("processing_delay_ms must be a non-negative integer")
        self._processing_delay_ms = value

    def rotate_api_key(self, new_key: str, *, keep_old: bool = False) -> None:
        with self._lock:
            self._credentials = self._credentials.with_api_key(new_key, keep_old=keep_old)

    def reset(self) -> None:
        with self._lock:
            self.store = Store(self.seed, int(self._credentials.application_id))
            self._log.clear()
            self._counts = self._zero_counts()
            self._idempotent.clear()

    def received(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._log)

    def counts(self, operation: str) -> OperationCounts:
        with self._lock:
            if operation not in self._counts:
                raise ValueError(f"unknown operation {operation!r}")
            return OperationCounts(**self._counts[operation])

    def all_counts(self) -> dict[str, OperationCounts]:
        with self._lock:
            return {op: OperationCounts(**c) for op, c in self._counts.items()}

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self.store.snapshot(datetime.now(UTC))

    # -- request pipeline ----------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        path = request.path
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            return self._admin(request)
        try:
            op, params = self.spec.route(request.method, path)
        except ApiError as error:
            self._record(request, None)
            return error_reply(error)
        self._record(request, op.operation_id)
        fault = self.faults.take(op.operation_id)
        if fault is not None:
            logger.info("fault %s on %s", fault.action, op.operation_id)
            if fault.action in SHORT_CIRCUIT:
                self._sleep(fault.latency_ms or 0)
                return self._fault_reply(fault)
        reply = self._process(op, params, request, fault)
        if fault is not None and fault.action == "malformed":
            return Reply(fault.status or 200, MALFORMED_BODY, JSON_HEADERS)
        if fault is not None and fault.action == "drop_after_processing":
            return replace(reply, transport="truncate")
        return reply

    def _sleep(self, milliseconds: int) -> None:
        # Interruptible, so stopping the sandbox does not wait for injected latency.
        if milliseconds > 0:
            self._stopping.wait(milliseconds / 1000)

    def _record(self, request: Request, operation: str | None) -> None:
        entry = RecordedRequest(
            operation=operation,
            method=request.method,
            path=request.path,
            query=request.query,
            headers=request.headers,
            body=request.body,
            time=datetime.now(UTC),
        )
        with self._lock:
            self._log.append(entry)
            if operation is not None:
                self._counts[operation]["received"] += 1

    def _fault_reply(self, fault: Fault) -> Reply:
        if fault.action == "drop":
            return Reply(0, transport="drop")
        headers = () if fault.retry_after is None else (("Retry-After", str(fault.retry_after)),)
        if fault.action == "respond":
            return json_reply(fault.status or 200, fault.body, headers)
        status = fault.status or 500
        body = fault.body
        if body is None:
            body = error_body(status, FAULT_MESSAGES.get(status, reason(status)))
        return json_reply(status, body, headers)

    @contextmanager
    def _holding(self, keys: list[EntityKey]) -> Iterator[None]:
        """Hold the entities for the time of the write, or refuse it as Talon.One does (409)."""
        if not keys:
            yield
            return
        with self._busy_lock:
            busy = next((k for k in keys if k in self._busy), None)
            if busy is None:
                self._busy.update(keys)
        if busy is not None:
            message = CONCURRENT_SESSION_MESSAGE if busy[0] == "session" else CONCURRENT_PROFILE_MESSAGE
            raise conflict(message)
        try:
            yield
        finally:
            with self._busy_lock:
                self._busy.difference_update(keys)

    def _process(
        self, op: Operation, raw_params: dict[str, str], request: Request, fault: Fault | None
    ) -> Reply:
        latency = (fault.latency_ms or 0) if fault is not None else 0
        try:
            authenticate(request.headers, request.body, self.credentials, op.schemes)
            path = self.spec.path_params(op, raw_params)
            query = self.spec.query_params(op, request.query)
            body = self.spec.body(op, request.body)
            idempotency = self._idempotency_key(op, request)
            if idempotency is not None:
                replay = self._replay(idempotency)
                if replay is not None:
                    return replay
            with self._holding(_entity_keys(op, path, query, body)):
                # Injected latency and the processing delay happen while the entity is held.
                self._sleep(latency + self.processing_delay_ms)
                latency = 0
                call = Call(path, query, body, datetime.now(UTC), request.headers)
                with self._lock:
                    status, payload = self._handlers[op.operation_id](self.store, call)
                    self._counts[op.operation_id]["processed"] += 1
                    # Encode under the lock: payloads may reference live state.
                    data = b"" if payload is None else encode(payload)
        except ApiError as error:
            self._sleep(latency)  # a refused request is as slow as an accepted one
            return error_reply(error)
        reply = Reply(status, data, JSON_HEADERS if payload is not None else ())
        if idempotency is not None:
            with self._lock:
                self._idempotent[idempotency] = (time.monotonic() + IDEMPOTENCY_TTL_S, reply)
        return reply

    def _idempotency_key(self, op: Operation, request: Request) -> tuple[str, str] | None:
        if op.operation_id not in IDEMPOTENT_OPERATIONS:
            return None
        key = request.header("Idempotency-Key")
        if key is None:
            return None
        if not key or len(key) > IDEMPOTENCY_KEY_MAX:
            raise bad_request(
                f"Idempotency-Key must hold 1 to {IDEMPOTENCY_KEY_MAX} characters", title="Invalid header"
            )
        return op.operation_id, key

    def _replay(self, key: tuple[str, str]) -> Reply | None:
        with self._lock:
            found = self._idempotent.get(key)
            if found is None:
                return None
            if found[0] < time.monotonic():
                del self._idempotent[key]
                return None
            return found[1]

    # -- admin endpoints -----------------------------------------------------------------------

    def _admin(self, request: Request) -> Reply:
        try:
            if not _is_loopback(request.client_host):
                raise ApiError(403, "The sandbox's admin endpoints answer loopback clients only")
            route = (request.method, request.path.removeprefix(ADMIN_PREFIX))
            routes: dict[tuple[str, str], Callable[[Request], Reply]] = {
                ("POST", "/faults"): self._admin_add_fault,
                ("GET", "/faults"): lambda _r: json_reply(200, {"faults": self.faults.pending()}),
                ("DELETE", "/faults"): self._admin_clear_faults,
                ("POST", "/reset"): self._admin_reset,
                ("GET", "/requests"): self._admin_requests,
                ("GET", "/counts"): lambda _r: json_reply(200, self.all_counts()),
                ("POST", "/credentials"): self._admin_credentials,
                ("GET", "/state"): lambda _r: json_reply(200, self.snapshot()),
                ("GET", "/config"): lambda _r: json_reply(200, self._config()),
                ("PUT", "/config"): self._admin_config,
            }
            handler = routes.get(route)
            if handler is None:
                raise not_found(f"No admin endpoint {request.method} {request.path}")
            return handler(request)
        except ApiError as error:
            return error_reply(error)

    def _admin_object(self, request: Request) -> Mapping[str, Any]:
        data = parse_json(request.body)
        if not isinstance(data, dict):
            raise bad_request("Expected a JSON object")
        return data

    def _admin_add_fault(self, request: Request) -> Reply:
        try:
            fault = Fault.from_json(self._admin_object(request))
            self.faults.add(fault)
        except ValueError as exc:
            raise bad_request(str(exc), title="Invalid fault") from None
        return json_reply(201, fault.to_json())

    def _admin_clear_faults(self, _request: Request) -> Reply:
        self.faults.clear()
        return Reply(204)

    def _admin_reset(self, _request: Request) -> Reply:
        self.reset()
        return Reply(204)

    def _admin_requests(self, request: Request) -> Reply:
        wanted = dict(parse_qsl(request.query)).get("operation")
        entries = [r.to_json() for r in self.received() if wanted is None or r.operation == wanted]
        return json_reply(200, {"requests": entries})

    def _admin_credentials(self, request: Request) -> Reply:
        data = self._admin_object(request)
        key, keep_old = data.get("apiKey"), data.get("keepOld", False)
        if not isinstance(key, str) or not isinstance(keep_old, bool):
            raise bad_request("Expected {'apiKey': string, 'keepOld': boolean}", title="Invalid rotation")
        try:
            self.rotate_api_key(key, keep_old=keep_old)
        except ValueError as exc:
            raise bad_request(str(exc), "/apiKey", title="Invalid rotation") from None
        return Reply(204)

    def _config(self) -> dict[str, Any]:
        return {"processing_delay_ms": self.processing_delay_ms}

    def _admin_config(self, request: Request) -> Reply:
        data = self._admin_object(request)
        unknown = set(data) - {"processing_delay_ms"}
        if unknown:
            raise bad_request(f"unknown config fields: {sorted(unknown)}", title="Invalid config")
        if "processing_delay_ms" in data:
            try:
                self.processing_delay_ms = data["processing_delay_ms"]
            except ValueError as exc:
                raise bad_request(str(exc), "/processing_delay_ms", title="Invalid config") from None
        return json_reply(200, self._config())


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", maxsplit=1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)
