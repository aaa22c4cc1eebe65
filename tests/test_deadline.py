"""Every exchange with Talon.One, retries included, ends by the deadline, even against a trickle."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from local_gateway.functions import LambdaContext, load_handler
from tests.conftest import SPECS, load_event


class _Trickle(BaseHTTPRequestHandler):
    """Answers headers at once, then one body byte every 0.3 s: no single read ever times out."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "100")
        self.end_headers()
        try:
            for _ in range(100):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.3)
        except OSError:
            return  # the gateway hung up, as it should

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        pass


@pytest.fixture
def trickle() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_trickling_answer_is_cut_at_the_deadline(
    trickle: str, gateway_env: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a Talon.One that trickles its answer, and a Lambda with 3 s left (deadline 2.5 s)
    gateway_env(trickle)
    monkeypatch.setenv("TALON_READ_TIMEOUT", "1")
    handler = load_handler(SPECS["get_reserved_coupons"])

    # When coupons are read
    started = time.monotonic()
    response = handler(load_event("get_reserved_coupons"), LambdaContext(timeout_s=3))
    elapsed = time.monotonic() - started

    # Then the caller gets a 504 by the deadline, though no socket read ever timed out
    assert response["statusCode"] == 504
    assert elapsed < 2.5 + 1.5  # (the trickle alone would last 30 s; the slack is a slow machine's)
    assert elapsed > 2.0
