"""HTTP on loopback → the API Gateway (REST, proxy) event API Gateway would send → the function.

Routes come from template.yaml. Fidelity notes: the path stays percent-encoded in ``path`` and
is decoded per segment in ``pathParameters`` (as API Gateway REST does); a body that is not
UTF-8 is delivered base64-encoded; API Gateway's own answers (an unknown route: 404, a body over
10 MB: 413, an invocation longer than 29 s: 504, a crashed function: 502) are template.yaml's
GatewayResponses, in Talon.One's error shape with X-Correlation-Id.

Before any route is resolved, /docs serves Swagger UI (local_gateway.docs_ui); every request
ends with one access-log line on stdout (local_gateway.access_log).
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local_gateway.access_log import NO_ROUTE, AccessLog
from local_gateway.client import LOCAL_TOKEN
from local_gateway.docs_ui import DocsUI
from local_gateway.runtime import Runtime
from local_gateway.template import FunctionSpec, gateway_responses

JSON = [("Content-Type", "application/json")]
Headers = list[tuple[str, str]]
API_GATEWAY_TIMEOUT = 29.0
MAX_PAYLOAD = 10 * 1024 * 1024
STAGE = "local"


@dataclass(frozen=True)
class Route:
    spec: FunctionSpec
    segments: tuple[str, ...]  # of the resource path; "{name}" marks a parameter

    @classmethod
    def of(cls, spec: FunctionSpec) -> Route:
        return cls(spec, tuple(spec.path.strip("/").split("/")))

    def match(self, method: str, raw_segments: list[str]) -> dict[str, str] | None:
        if method != self.spec.method or len(raw_segments) != len(self.segments):
            return None
        values = {}
        for pattern, raw in zip(self.segments, raw_segments, strict=True):
            if pattern.startswith("{") and pattern.endswith("}"):
                if not raw:
                    return None
                # Bytes that are not UTF-8 stay visible (as surrogates, which the gateway refuses)
                # instead of turning silently into U+FFFD.
                values[pattern[1:-1]] = unquote(raw, errors="surrogateescape")
            elif pattern != raw:
                return None
        return values

    @property
    def static_segments(self) -> int:
        return sum(not s.startswith("{") for s in self.segments)


def build_event(
    route: Route,
    *,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    path_values: dict[str, str],
) -> dict[str, Any]:
    parts = urlsplit(target)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in pairs:
        multi_query.setdefault(name, []).append(value)
    try:
        text, encoded = (body.decode(), False) if body else (None, False)
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    return {
        "resource": route.spec.path,
        "path": parts.path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {n: v[-1] for n, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_values or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "httpMethod": method,
            "path": f"/{STAGE}{parts.path}",
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "resourcePath": route.spec.path,
            "stage": STAGE,
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


class LocalGateway:
    """Serves every Api route of template.yaml on loopback through a Runtime."""

    def __init__(
        self,
        functions: list[FunctionSpec],
        runtime: Runtime,
        host: str = "127.0.0.1",
        port: int = 3000,
        *,
        token: str = LOCAL_TOKEN,
        access_log: AccessLog | None = None,
    ) -> None:
        self.routes = sorted((Route.of(f) for f in functions), key=lambda r: -r.static_segments)
        self.gateway_responses = gateway_responses()
        self.runtime = runtime
        self.access_log = access_log or AccessLog()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                gateway.handle(self)

            # Every method reaches the router, which answers 404 JSON where no route matches.
            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_TRACE = _serve  # noqa: N815 - http.server's names

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.docs = DocsUI(token=token, gateway_url=self.url)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def resolve(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
        segments = raw_path.strip("/").split("/")
        for route in self.routes:
            values = route.match(method, segments)
            if values is not None:
                return route, values
        return None

    def _gateway_error(self, request: BaseHTTPRequestHandler, kind: str, message: str) -> tuple[int, Headers]:
        """API Gateway's own answer of that type, as template.yaml shapes it, with its request id."""
        response = self.gateway_responses[kind]
        request_id = str(uuid.uuid4())
        headers = [*JSON, ("X-Correlation-Id", request_id)]
        return self._reply(request, response.status, headers, response.render(message, request_id))

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        route, (status, headers) = self._answer(request)
        self.access_log.record(
            method=request.command,
            route=route,
            status=status,
            latency_ms=(time.monotonic() - started) * 1000,
            correlation_id=_header(headers, "X-Correlation-Id"),
            replayed=(_header(headers, "Idempotent-Replayed") or "").lower() == "true",
        )

    def _answer(self, request: BaseHTTPRequestHandler) -> tuple[str, tuple[int, Headers]]:
        """Answer the request; the route to log (the resource path: never the path's values)."""
        path = urlsplit(request.path).path
        docs = self.docs.answer(request.command, path, request.headers.get("Host"))
        if docs is not None:
            request.rfile.read(int(request.headers.get("Content-Length") or 0))
            return path, self._reply(request, docs.status, docs.headers, docs.body)
        length = int(request.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD:
            request.close_connection = True
            return NO_ROUTE, self._gateway_error(request, "REQUEST_TOO_LARGE", "Request Too Long")
        body = request.rfile.read(length) if length else b""
        found = self.resolve(request.command, path)
        if found is None:
            return NO_ROUTE, self._gateway_error(
                request, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token"
            )
        route, values = found
        event = build_event(
            route,
            method=request.command,
            target=request.path,
            headers=list(request.headers.items()),
            body=body,
            path_values=values,
        )
        resource = route.spec.path
        try:
            result = self.runtime.submit(route.spec, event).result(timeout=API_GATEWAY_TIMEOUT)
        except FutureTimeout:
            return resource, self._gateway_error(request, "INTEGRATION_TIMEOUT", "Endpoint request timed out")
        except Exception:  # noqa: BLE001 - a crashed function is what API Gateway reports as 502
            return resource, self._gateway_error(request, "INTEGRATION_FAILURE", "Internal server error")
        return resource, self._reply_with(request, result)

    def _reply_with(self, request: BaseHTTPRequestHandler, result: dict[str, Any]) -> tuple[int, Headers]:
        headers: Headers = []
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((name, str(v)) for v in values)
        for name, value in (result.get("headers") or {}).items():
            headers.append((name, str(value)))
        raw = result.get("body") or ""
        payload = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
        return self._reply(request, int(result["statusCode"]), headers, payload)

    @staticmethod
    def _reply(
        request: BaseHTTPRequestHandler, status: int, headers: Headers, payload: bytes
    ) -> tuple[int, Headers]:
        request.send_response(status)
        for name, value in headers:
            if name.lower() != "content-length":
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        if request.command != "HEAD":  # its answer has the headers of a GET, never a body
            request.wfile.write(payload)
        return status, headers

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,), daemon=True)
        self._thread.start()

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _header(headers: Headers, name: str) -> str | None:
    """The last value of a header, by case-insensitive name."""
    found = [value for key, value in headers if key.lower() == name.lower()]
    return found[-1] if found else None
