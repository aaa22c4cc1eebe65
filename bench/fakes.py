"""Talon.One and the secrets extension answered in-process, below HTTP.

The gateway's httpx client keeps its real stack (httpx, httpcore, h11 serialising the request
and parsing the answer); only the socket is replaced by a stream that hands back canned HTTP
bytes. The same fake socket serves the standard-library floor through http.client, so both
do the same HTTP work and neither touches the network.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

# Canned answers, shaped like Talon.One's (spec/): the body size matters for the measurements.
EFFECTS = [
    {
        "campaignId": 1,
        "rulesetId": 11,
        "ruleIndex": 0,
        "ruleName": "Summer 20% off",
        "effectType": "setDiscount",
        "props": {"name": "Summer 20% off", "value": 16.0},
    }
]
SESSION_V2 = {
    "effects": EFFECTS,
    "createdCoupons": [],
    "createdReferrals": [],
    "customerSession": {
        "integrationId": "cart-1",
        "created": "2026-11-29T07:00:00Z",
        "applicationId": 42,
        "profileId": "customer-1001",
        "couponCodes": ["SUMMER20"],
        "state": "open",
        "cartItems": [],
        "attributes": {},
        "firstSession": True,
        "total": 80.0,
        "cartItemTotal": 80.0,
        "additionalCostTotal": 0.0,
    },
}
ANSWERS: dict[str, tuple[int, bytes]] = {
    "PUT /v2/": (200, json.dumps(SESSION_V2).encode()),
    "DELETE ": (204, b""),
    "": (
        200,
        json.dumps({"totalResultSize": 1, "data": [{"id": 1, "value": "SUMMER20"}], **SESSION_V2}).encode(),
    ),
}


def talon_answer(method: str, path: str) -> tuple[int, bytes]:
    for prefix, answer in ANSWERS.items():
        if f"{method} {path}".startswith(prefix):
            return answer
    raise AssertionError("unreachable: the empty prefix matches everything")


def http_bytes(status: int, body: bytes, reason: str = "OK") -> bytes:
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


Responder = Callable[[bytes], bytes]  # raw request head (and body) -> raw response


class FakeStream(httpcore.NetworkStream):
    """A keep-alive connection whose peer answers each request from ``respond``."""

    def __init__(self, respond: Responder) -> None:
        self._respond = respond
        self._pending = b""

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # A request head (h11 writes it apart from the body) gets its answer queued.
        if b" HTTP/1.1\r\n" in buffer.split(b"\r\n", 1)[0] + b"\r\n":
            self._pending += self._respond(buffer)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        chunk, self._pending = self._pending[:max_bytes], self._pending[max_bytes:]
        return chunk

    def close(self) -> None:
        self._pending = b""

    def start_tls(self, *args: Any, **kwargs: Any) -> FakeStream:
        return self

    def get_extra_info(self, info: str) -> Any:
        return None


class FakeBackend(httpcore.NetworkBackend):
    def __init__(self, respond: Callable[[str, int], Responder]) -> None:
        self._respond = respond

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> FakeStream:
        return FakeStream(self._respond(host, port))

    def sleep(self, seconds: float) -> None:
        return None


def _request_line(raw: bytes) -> tuple[str, str]:
    method, target, _ = raw.split(b"\r\n", 1)[0].decode().split(" ", 2)
    return method, target


def responder(secrets: dict[str, dict[str, object]]) -> Callable[[str, int], Responder]:
    """Talon.One on any host; the secrets extension on 127.0.0.1:2773."""

    def for_host(host: str, port: int) -> Responder:
        if (host, port) == ("127.0.0.1", 2773):

            def extension(raw: bytes) -> bytes:
                _, target = _request_line(raw)
                secret_id = httpx.URL(target).params["secretId"]
                body = json.dumps({"Name": secret_id, "SecretString": json.dumps(secrets[secret_id])})
                return http_bytes(200, body.encode())

            return extension

        def talon(raw: bytes) -> bytes:
            method, target = _request_line(raw)
            status, body = talon_answer(method, target)
            return http_bytes(status, body, "No Content" if status == 204 else "OK")

        return talon

    return for_host


class FakeNetworkTransport(httpx.HTTPTransport):
    """httpx's own transport (connection pool, h11) over the fake sockets.

    The pool is built on first use with the gateway's TLS context, so a cold start pays for
    loading the CA bundle as it does in production (the fake stream then skips the handshake).
    """

    def __init__(self, backend: FakeBackend) -> None:
        super().__init__(verify=False)
        self._backend = backend
        self._ready = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self._ready:
            from talon_gateway.upstream.transport import ssl_context

            self._pool = httpcore.ConnectionPool(ssl_context=ssl_context(), network_backend=self._backend)
            self._ready = True
        return super().handle_request(request)


class FakeSocket:
    """Enough of a socket for http.client: requests are answered like FakeStream does."""

    def __init__(self, respond: Responder) -> None:
        self._stream = FakeStream(respond)

    def sendall(self, data: bytes) -> None:
        self._stream.write(data)

    def makefile(self, mode: str) -> io.BytesIO:
        return io.BytesIO(self._stream.read(1 << 30))

    def close(self) -> None:
        self._stream.close()
