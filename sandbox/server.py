"""The HTTP transport (stdlib ThreadingHTTPServer, keep-alive) and the public Sandbox class."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

from sandbox.app import OperationCounts, RecordedRequest, Reply, Request, SandboxApp, json_reply
from sandbox.credentials import SandboxCredentials
from sandbox.errors import ApiError, error_body
from sandbox.faults import Fault, FaultAction
from sandbox.seed import Seed
from sandbox.spec import Spec, load_spec

logger = logging.getLogger("sandbox")

MAX_BODY = 10 * 1024 * 1024
# drop_after_processing announces this many bytes more than it sends.
TRUNCATED_BYTES = 64
NO_BODY_STATUSES = frozenset({204, 304})


@dataclass(frozen=True, slots=True)
class SandboxState:
    """A deep copy of the state in wire format (camelCase), for assertions in tests.

    ``sessions`` use the CustomerSessionV2 shape plus ``discounts``, with ``total`` being the
    effective one (a v1 stated total wins); ``reservations`` maps coupon values to holders.
    ``loyalty`` holds ``programs`` (with members), ``cards`` ("<programId>/<identifier>") and
    every ledger ``transactions`` entry; ``v3_events`` maps integration ids to EventV3.
    """

    profiles: dict[str, dict[str, Any]]
    sessions: dict[str, dict[str, Any]]
    events: list[dict[str, Any]]
    coupons: dict[str, dict[str, Any]]
    referrals: dict[str, dict[str, Any]]
    reservations: dict[str, list[str]]
    campaigns: dict[str, dict[str, Any]]
    loyalty: dict[str, Any] = field(default_factory=dict)
    audiences: dict[str, dict[str, Any]] = field(default_factory=dict)
    catalogs: dict[str, dict[str, Any]] = field(default_factory=dict)
    achievements: dict[str, dict[str, Any]] = field(default_factory=dict)
    v3_events: dict[str, dict[str, Any]] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], app: SandboxApp) -> None:
        self.app = app
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)


class _BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Talon.One and the gateway's client use
    server_version = "TalonOneSandbox/1.0"
    # Status line, headers and body leave in one write (flushed after each request), and
    # TCP_NODELAY: otherwise Nagle + delayed ACK add ~40 ms to every keep-alive exchange.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    @property
    def _server(self) -> _Server:
        return cast("_Server", self.server)

    def setup(self) -> None:
        super().setup()
        with self._server.connections_lock:
            self._server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self._server.connections_lock:
                self._server.connections.discard(self.connection)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.info("%s - %s", self.address_string(), format % args)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.strip().isdigit():
            raise _BodyError(400, "Invalid Content-Length")
        size = int(length)
        if size > MAX_BODY:
            raise _BodyError(413, "Request body too large")
        return self.rfile.read(size)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(line, 16)
            except ValueError:
                raise _BodyError(400, "Invalid chunked encoding") from None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise _BodyError(413, "Request body too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)  # CRLF after the chunk

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except _BodyError as exc:
            self.close_connection = True  # the rest of the stream cannot be trusted
            self._write(json_reply(exc.status, error_body(exc.status, str(exc))))
            return
        request = Request(
            method=self.command,
            target=self.path,
            headers=tuple(self.headers.items()),
            body=body,
            client_host=self.client_address[0],
        )
        try:
            reply = self._server.app.handle(request)
        except Exception:
            logger.exception("sandbox failure on %s %s", self.command, self.path)
            error = ApiError(500, "Internal sandbox error")
            reply = json_reply(500, error.body())
        self._write(reply)

    def _write(self, reply: Reply) -> None:
        if reply.transport == "drop":
            self.close_connection = True  # close without a single byte of response
            return
        body = b"" if reply.status in NO_BODY_STATUSES else reply.body
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.transport == "truncate":
            self.send_header("Content-Length", str(len(body) + TRUNCATED_BYTES))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if reply.status not in NO_BODY_STATUSES:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Sandbox:
    """A stateful local Talon.One Integration API on loopback, for tests and local runs.

    ``seed=None`` uses the bundled ``sandbox/seed.json``; ``port=0`` picks a free port;
    ``processing_delay_ms`` makes every request take that long, holding its session or profile
    meanwhile (parallel writes to it then get Talon.One's 409).
    """

    def __init__(
        self,
        credentials: SandboxCredentials | None = None,
        seed: str | Path | Seed | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        spec: Spec | None = None,
        *,
        processing_delay_ms: int = 0,
    ) -> None:
        self._host = host
        self._port = port
        self._stopping = threading.Event()
        self.app = SandboxApp(
            credentials or SandboxCredentials(),
            seed if isinstance(seed, Seed) else Seed.load(seed),
            spec or load_spec(),
            self._stopping,
            processing_delay_ms,
        )
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("sandbox already started")
        self._stopping.clear()
        self._server = _Server((self._host, self._port), self.app)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"talon-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close keep-alive connections and wake requests sleeping in a fault."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with server.connections_lock:
            open_connections = list(server.connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("sandbox not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://<host>:<port>`` (IPv6 hosts bracketed)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    # -- control -------------------------------------------------------------------------------

    @property
    def credentials(self) -> SandboxCredentials:
        return self.app.credentials

    def add_fault(
        self,
        operation: str,
        action: FaultAction,
        *,
        status: int | None = None,
        count: int | None = None,
        retry_after: int | None = None,
        latency_ms: int | None = None,
        body: Any = None,
        duration_s: float | None = None,
    ) -> Fault:
        """Queue a fault for the next ``count`` requests of ``operation`` (operationId or "*"),
        or for every one of them during ``duration_s`` seconds (at most ``count`` if both)."""
        fault = Fault(operation, action, count, status, retry_after, latency_ms, body, duration_s)
        self.app.faults.add(fault)
        return fault

    def clear_faults(self) -> None:
        self.app.faults.clear()

    @property
    def faults(self) -> list[dict[str, Any]]:
        """Pending faults with their remaining counts (and seconds, for time-based ones)."""
        return self.app.faults.pending()

    @property
    def processing_delay_ms(self) -> int:
        return self.app.processing_delay_ms

    @processing_delay_ms.setter
    def processing_delay_ms(self, value: int) -> None:
        self.app.processing_delay_ms = value

    def reset(self) -> None:
        """State back to the seed; request log and counters cleared (faults and keys stay)."""
        self.app.reset()

    def rotate_api_key(self, new_key: str, keep_old: bool = False) -> None:
        self.app.rotate_api_key(new_key, keep_old=keep_old)

    @property
    def received(self) -> list[RecordedRequest]:
        return self.app.received()

    def requests_for(self, operation: str) -> list[RecordedRequest]:
        return [r for r in self.app.received() if r.operation == operation]

    def counts(self, operation: str) -> OperationCounts:
        return self.app.counts(operation)

    @property
    def state(self) -> SandboxState:
        return SandboxState(**self.app.snapshot())
