"""Fixtures shared by every suite: AWS through moto over HTTP, Talon.One over HTTP, handlers in-process."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Powertools reads these when the layer is imported, so they are set before any test imports it.
os.environ.update(
    {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_SERVICE_NAME": "talon-gateway-test",
        "POWERTOOLS_METRICS_NAMESPACE": "TalonGatewayTest",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
)

import httpx

from local_gateway.functions import LambdaContext, load_handler
from local_gateway.stack import LocalStack
from local_gateway.template import FunctionSpec, functions
from tests.support import aws, log_tap
from tests.support.upstream import RecordingUpstream

# The queue and worker fixtures (tests/support/queues.py), for every module that needs them.
pytest_plugins = ["tests.support.queues"]

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto in server mode on 127.0.0.1; boto3 reaches it through AWS_ENDPOINT_URL."""
    server = aws.MotoServer()
    endpoint = server.start()
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    aws.provision(endpoint)
    yield endpoint
    os.environ.pop("AWS_ENDPOINT_URL", None)
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """Each test starts like a cold execution environment: no cached settings, secrets or pool."""
    from talon_gateway import secrets
    from talon_gateway.config import get_settings
    from talon_gateway.delivery import aws as aws_clients
    from talon_gateway.delivery import idempotency
    from talon_gateway.upstream import transport

    def clear() -> None:
        get_settings.cache_clear()
        idempotency.reset()
        aws_clients.reset()
        secrets.clear_caches()
        transport.reset_client()

    clear()
    yield
    clear()


@pytest.fixture
def upstream() -> Iterator[RecordingUpstream]:
    with RecordingUpstream() as server:
        yield server


@pytest.fixture
def gateway_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Point the gateway at a Talon.One base URL, with the test deployment's secrets."""

    def configure(base_url: str) -> None:
        monkeypatch.setenv("TALON_BASE_URL", base_url)
        monkeypatch.setenv("TALON_SECRET_ID", aws.TALON_SECRET_ID)
        monkeypatch.setenv("INBOUND_SECRET_ID", aws.INBOUND_SECRET_ID)
        monkeypatch.setenv("IDEMPOTENCY_TABLE", aws.IDEMPOTENCY_TABLE)
        monkeypatch.setenv("STATE_TABLE", aws.STATE_TABLE)
        monkeypatch.setenv("GATEWAY_BUCKET", aws.BUCKET)
        monkeypatch.setenv("DELIVERY_QUEUE_URL", aws.QUEUE_URLS["DeliveryQueue"])
        monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", aws.QUEUE_URLS["DeadLetterQueue"])
        monkeypatch.setenv("MAX_RECEIVE_COUNT", aws.DELIVERY_PARAMETERS["MaxReceiveCount"])
        monkeypatch.setenv("MAX_BACKOFF_SECONDS", aws.DELIVERY_PARAMETERS["MaxBackoffSeconds"])
        monkeypatch.setenv("TALON_CONNECT_TIMEOUT", "1")
        monkeypatch.setenv("TALON_READ_TIMEOUT", "2")

    return configure


@pytest.fixture
def recorded_gateway(gateway_env: Callable[[str], None], upstream: RecordingUpstream) -> RecordingUpstream:
    gateway_env(upstream.url)
    return upstream


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    """What `make run` starts, in-process: moto, the sandbox, the gateway on loopback (2 environments)."""
    with LocalStack(port=0, sandbox_port=0, workers=2) as running:
        yield running


def reset_sandbox(stack: LocalStack) -> None:
    """The sandbox back to its seed, its request log empty."""
    answer = httpx.post(f"{stack.talon_url}/_sandbox/reset", timeout=10)
    assert answer.status_code == 204


SPECS: dict[str, FunctionSpec] = {spec.code_uri.name: spec for spec in functions()}


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]


@pytest.fixture
def invoke() -> Invoke:
    """Call a function's lambda_handler in-process, as Lambda would, with a fresh context."""

    def call(function: str, event: dict[str, Any]) -> dict[str, Any]:
        spec = SPECS[function]
        handler = load_handler(spec)
        return handler(event, LambdaContext(function_name=spec.logical_id, timeout_s=spec.timeout))

    return call


def header(response: dict[str, Any], name: str) -> str | None:
    """A response header's value, looked up case-insensitively in multiValueHeaders."""
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower():
            return str(values[-1])
    return None


def body_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


_passed = 0


def pytest_configure(config: pytest.Config) -> None:
    log_tap.install()
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        # What Lambda's runtime does for ApplicationLogLevel: the root logger at that level,
        # with a handler writing every record to the function's log stream.
        root = logging.getLogger()
        root.setLevel(level)
        root.addHandler(logging.StreamHandler(sys.__stderr__))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _passed  # noqa: PLW0603 - a session-wide tally for the hook below
    if report.when == "call" and report.passed:
        _passed += 1


# Under pytest-xdist (make test), what each worker's log tap found, sent with its end.
_worker_leaks: list[tuple[str, str]] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    # The controller: a worker's leaks (its own exit status does not reach the run's).
    _worker_leaks.extend((needle, line) for needle, line in node.workeroutput.get("log_leaks", []))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Two session-wide assertions.

    - A run in which no test passed (none collected, or all skipped) is a failure.
    - No line logged during the whole run (the functions' logs, every logging record, the local
      gateway's processes) may contain a configured secret or a customer attribute value of the
      test data; under pytest-xdist each worker's lines too, reported by the controller.
    """
    leaks = log_tap.leaks()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        # A worker: the controller counts the passes and judges the leaks.
        workeroutput["log_leaks"] = [[needle, line[:300]] for needle, line in leaks[:20]]
        return
    if exitstatus == 0 and _passed == 0:
        session.exitstatus = 1
    leaks = leaks + _worker_leaks
    if leaks:
        print(f"\n{len(leaks)} log line(s) hold a secret or a customer attribute value:")
        for needle, line in leaks[:20]:
            print(f"  [{needle[:4]}...] {line[:300]}")
        session.exitstatus = 1
