"""A scripted, recording stand-in for Talon.One over real HTTP on loopback.

Used where a test must see the exact bytes the gateway sent and choose the answer byte for
byte; the stateful sandbox (sandbox/) serves the end-to-end tests.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Recorded:
    method: str
    target: str  # raw request target: percent-encoded path and query, as received
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"ok":true}'
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay: float = 0.0  # seconds to wait before answering (a slow Talon.One)


class RecordingUpstream:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.answers: deque[Answer] = deque()
        self.default = Answer()
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with outer.lock:
                    outer.requests.append(
                        Recorded(
                            self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                        )
                    )
                    answer = outer.answers.popleft() if outer.answers else outer.default
                time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    self.close_connection = True  # the gateway gave up waiting: nobody to answer

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's names

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(
        self, status: int, body: bytes, content_type: str | None = "application/json", **headers: str
    ) -> None:
        all_headers = {"Content-Type": content_type} if content_type else {}
        all_headers.update({name.replace("_", "-"): value for name, value in headers.items()})
        self.answers.append(Answer(status, body, all_headers))

    def __enter__(self) -> RecordingUpstream:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
