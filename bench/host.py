"""What Lambda's network gives a function, answered in-process: Talon.One, the secrets
extension, DynamoDB, SQS and Secrets Manager.

Nothing is imported here, and nothing is replaced up front: each fake is installed by a
post-import hook when the module it replaces a piece of is first imported by the function
itself, inside the timed region. So the function pays for every module it loads, every
client it builds and every byte its HTTP stacks serialise and parse; only the sockets are
fake:
- httpcore's sync backend (under the gateway's httpx pool): ``connect_tcp`` gives a stream
  that answers each request with Talon.One's canned bytes (h11 still writes and parses every
  message; the TLS handshake is skipped, the TLS context is still built);
- http.client (the secrets extension on 127.0.0.1:2773, and the floor's forwarder):
  ``connect`` gives a socket holding the canned answer;
- botocore: a ``before-send`` handler on every session answers the serialised, signed request
  (DynamoDB in a dict, SQS, Secrets Manager), so botocore's client creation, serialisation,
  signing and parsing all run;
- socket: any connection outside the loopback range is refused (nothing here may reach a
  network).
"""

# No imports at run time: this module is loaded before the timer starts.
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any

TALON_EFFECTS = (
    '[{"campaignId":1,"rulesetId":11,"ruleIndex":0,"ruleName":"Summer 20% off","effectType":'
    '"setDiscount","props":{"name":"Summer 20% off","value":16.0}}]'
)
TALON_SESSION = (
    '{"integrationId":"cart-1","created":"2026-11-29T07:00:00Z","applicationId":42,'
    '"profileId":"customer-1001","couponCodes":["SUMMER20"],"state":"open","cartItems":[],'
    '"attributes":{},"firstSession":true,"total":80.0,"cartItemTotal":80.0,"additionalCostTotal":0.0}'
)
# Shaped like Talon.One's answers (spec/): their size matters for the measurements.
TALON_V2 = (
    '{"effects":' + TALON_EFFECTS + ',"createdCoupons":[],"createdReferrals":[],'
    '"customerSession":' + TALON_SESSION + "}"
).encode()
TALON_OTHER = (
    '{"totalResultSize":1,"data":[{"id":1,"value":"SUMMER20"}],"effects":' + TALON_EFFECTS + ","
    '"createdCoupons":[],"createdReferrals":[],"customerSession":' + TALON_SESSION + "}"
).encode()
EXTENSION = ("127.0.0.1", 2773)


def http_bytes(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    reason = {200: "OK", 204: "No Content"}.get(status, "Status")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def talon(request: bytes) -> bytes:
    method, target = request.split(b"\r\n", 1)[0].split(b" ")[:2]
    if method == b"DELETE":
        return http_bytes(204, b"")
    if method == b"PUT" and target.startswith(b"/v2/"):
        return http_bytes(200, TALON_V2)
    return http_bytes(200, TALON_OTHER)


class Host:
    """The answers of one probe: the secrets' values, and a DynamoDB table held in a dict."""

    def __init__(self, secrets: dict[str, dict[str, object]]) -> None:
        self.secrets = secrets
        self.items: dict[tuple[str, str], dict[str, object]] = {}
        self.calls: dict[str, int] = {}
        # A queued delivery's record, served for any ``delivery#dlv_bench…`` key not written here
        # (the worker's deliveries were accepted by another function).
        self.seed: dict[str, object] | None = None

    # -- the secrets extension (http.client on loopback) --------------------------------------

    def extension(self, request: bytes) -> bytes:
        import json
        from urllib.parse import parse_qs, urlsplit

        target = request.split(b"\r\n", 1)[0].split(b" ")[1].decode()
        secret_id = parse_qs(urlsplit(target).query)["secretId"][0]
        self.calls["extension"] = self.calls.get("extension", 0) + 1
        body = json.dumps({"Name": secret_id, "SecretString": json.dumps(self.secrets[secret_id])})
        return http_bytes(200, body.encode())

    # -- AWS, behind botocore ------------------------------------------------------------------

    @staticmethod
    def _key(item: dict[str, object]) -> str:
        import json

        names = ("pk", "sk") if "pk" in item else ("id",)
        return json.dumps([item.get(name) for name in names])

    def aws(self, target: str, request: dict[str, object]) -> dict[str, object]:
        """The JSON answer of one AWS JSON-protocol call (DynamoDB, SQS, Secrets Manager)."""
        import json

        self.calls[target] = self.calls.get(target, 0) + 1
        operation = target.rsplit(".", 1)[1]
        table = str(request.get("TableName", ""))
        if operation == "GetSecretValue":
            secret_id = str(request["SecretId"])
            return {"Name": secret_id, "SecretString": json.dumps(self.secrets[secret_id])}
        if operation == "PutItem":
            item = request["Item"]
            assert isinstance(item, dict)
            self.items[(table, self._key(item))] = item
            return {}
        if operation == "GetItem":
            key = request["Key"]
            assert isinstance(key, dict)
            found = self.items.get((table, self._key(key)))
            pk = key.get("pk")
            seeded = isinstance(pk, dict) and str(pk.get("S", "")).startswith("delivery#dlv_bench")
            if found is None and self.seed is not None and seeded:
                found = dict(self.seed, pk=pk)
            return {"Item": found} if found is not None else {}
        if operation == "DeleteItem":
            key = request["Key"]
            assert isinstance(key, dict)
            self.items.pop((table, self._key(key)), None)
            return {}
        if operation == "BatchWriteItem":
            return {"UnprocessedItems": {}}
        if operation == "Query":
            return {"Items": [], "Count": 0, "ScannedCount": 0}
        if operation == "SendMessage":
            return {"MD5OfMessageBody": "0" * 32, "MessageId": "00000000-0000-4000-8000-000000000000"}
        # UpdateItem, ChangeMessageVisibility: the gateway reads nothing back from them.
        return {}

    # -- hooks ---------------------------------------------------------------------------------

    def install(self) -> None:
        hooks: dict[str, Callable[[Any], None]] = {
            "socket": _guard_socket,
            "http.client": lambda module: _fake_http_client(module, self),
            "httpcore._backends.sync": _fake_httpcore,
            "botocore": lambda module: _fake_botocore(module, self),
        }
        for name in [name for name in hooks if name in sys.modules]:
            hooks.pop(name)(sys.modules[name])
        sys.meta_path.insert(0, _PostImport(hooks))


class _PostImport:
    """A meta-path finder that runs ``hooks[name](module)`` right after ``name`` is executed."""

    def __init__(self, hooks: "dict[str, Callable[[Any], None]]") -> None:
        self.hooks = hooks

    def find_spec(
        self, name: str, path: "Sequence[str] | None" = None, target: "ModuleType | None" = None
    ) -> "ModuleSpec | None":
        hook = self.hooks.pop(name, None)
        if hook is None:
            return None
        finders: list[Any] = [finder for finder in sys.meta_path if finder is not self]
        for finder in finders:
            spec: ModuleSpec | None = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                break
        else:
            return None
        loader: Any = spec.loader
        run = loader.exec_module

        def exec_module(module: "ModuleType") -> None:
            run(module)
            hook(module)

        loader.exec_module = exec_module
        return spec


def _guard_socket(module: "Any") -> None:
    original = module.socket.connect

    def connect(sock: object, address: object) -> object:
        if isinstance(address, tuple) and not str(address[0]).startswith(("127.", "::1", "localhost")):
            raise ConnectionRefusedError(f"the benchmark reaches no network: {address[0]}")
        return original(sock, address)

    module.socket.connect = connect


class _FakeSocket:
    """Enough of a socket for http.client: what it sends is answered at once."""

    def __init__(self, respond: object) -> None:
        self._respond = respond
        self._pending = b""

    def sendall(self, data: bytes) -> None:
        if b" HTTP/1.1\r\n" in data.split(b"\r\n", 1)[0] + b"\r\n":
            self._pending += self._respond(data)  # type: ignore[operator]

    def makefile(self, mode: str) -> object:
        import io

        answer, self._pending = self._pending, b""
        return io.BytesIO(answer)

    def close(self) -> None:
        self._pending = b""


def _fake_http_client(module: "Any", host: Host) -> None:
    def connect(connection: object) -> None:
        address = (connection.host, connection.port)  # type: ignore[attr-defined]
        respond = host.extension if address == EXTENSION else talon
        connection.sock = _FakeSocket(respond)  # type: ignore[attr-defined]

    module.HTTPConnection.connect = connect
    module.HTTPSConnection.connect = connect  # no handshake: a fake peer


def _fake_httpcore(module: "Any") -> None:
    class Stream(module.NetworkStream):  # type: ignore[misc]
        def __init__(self) -> None:
            self._pending = b""

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            # h11 writes a request's head apart from its body: the head gets the answer.
            if b" HTTP/1.1\r\n" in buffer.split(b"\r\n", 1)[0] + b"\r\n":
                self._pending += talon(buffer)

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            chunk, self._pending = self._pending[:max_bytes], self._pending[max_bytes:]
            return chunk

        def close(self) -> None:
            self._pending = b""

        def start_tls(self, *args: object, **kwargs: object) -> "Stream":
            return self

        def get_extra_info(self, info: str) -> object:
            return None

    def connect_tcp(backend: object, host: str, port: int, *args: object, **kwargs: object) -> object:
        return Stream()

    module.SyncBackend.connect_tcp = connect_tcp


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: object) -> "Iterator[bytes]":
        yield self._body


def _fake_botocore(module: "Any", host: Host) -> None:
    def before_send(request: object, **kwargs: object) -> object:
        import json

        from botocore.awsrequest import AWSResponse

        headers = request.headers  # type: ignore[attr-defined]
        target = headers.get("X-Amz-Target")
        target = target.decode() if isinstance(target, bytes) else target
        if not target:
            raise AssertionError(f"the benchmark answers AWS JSON protocols only: {request.url}")  # type: ignore[attr-defined]
        body = request.body  # type: ignore[attr-defined]
        answer = host.aws(target, json.loads(body) if body else {})
        content = json.dumps(answer).encode()
        response_headers = {"x-amzn-RequestId": "bench", "Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, 200, response_headers, _Raw(content))  # type: ignore[attr-defined]

    module.register_initializer(lambda session: session.register("before-send", before_send))
