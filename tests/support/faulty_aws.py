"""A proxy between the functions and moto that fails chosen AWS calls: faults in the gateway's storage.

boto3 reaches it through AWS_ENDPOINT_URL like any endpoint. Each rule names an action (the
``X-Amz-Target`` of DynamoDB and SQS calls, such as ``DynamoDB_20120810.UpdateItem``, or
``s3:<METHOD>`` for S3) and fails that many of its next calls with an AWS error, before (or
after) moto saw them; everything else passes through unchanged. ``calls`` records every action.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class Rule:
    action: str
    count: int
    status: int = 500
    code: str = "InternalServerError"
    after_forwarding: bool = False  # True: moto processes the call, the caller still sees a failure


class FaultyAws:
    def __init__(self, upstream: str) -> None:
        target = urlsplit(upstream)
        self._host, self._port = target.hostname or "127.0.0.1", target.port or 80
        self.rules: list[Rule] = []
        self.calls: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                action = self.headers.get("X-Amz-Target") or f"s3:{self.command}"
                rule = outer._take(action)
                if rule is not None and not rule.after_forwarding:
                    self._fail(rule)
                    return
                status, headers, payload = outer._forward(self.command, self.path, self.headers.items(), body)
                if rule is not None:
                    self._fail(rule)
                    return
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _fail(self, rule: Rule) -> None:
                payload = json.dumps(
                    {"__type": f"com.amazonaws.dynamodb.v20120810#{rule.code}", "message": "injected fault"}
                ).encode()
                self.send_response(rule.status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("x-amzn-ErrorType", rule.code)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve  # noqa: N815 - http.server's names

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail(self, action: str, count: int = 1, **options: object) -> Rule:
        rule = Rule(action, count, **options)  # type: ignore[arg-type]
        with self._lock:
            self.rules.append(rule)
        return rule

    def _take(self, action: str) -> Rule | None:
        with self._lock:
            self.calls[action] += 1
            for rule in self.rules:
                if rule.action == action and rule.count > 0:
                    rule.count -= 1
                    self.failed[action] += 1
                    return rule
        return None

    def _forward(
        self, method: str, path: str, headers: object, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(self._host, self._port, timeout=30)
        try:
            sent = {k: v for k, v in headers if k.lower() not in HOP_BY_HOP}  # type: ignore[attr-defined]
            connection.request(method, path, body=body or None, headers=sent)
            answer = connection.getresponse()
            return answer.status, answer.getheaders(), answer.read()
        finally:
            connection.close()

    def __enter__(self) -> FaultyAws:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
