"""Fixtures of the sandbox's own tests: one sandbox per session, fresh state for every test.

``client`` checks every response against the spec (or the error shape) as it arrives, so each
test doubles as a conformance test; ``raw_client`` does not, for fault injection.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_APPLICATION_ID,
    DEFAULT_APPLICATION_KEY_HEX,
    Sandbox,
    api_key_authorization,
    content_signature,
    load_spec,
)
from sandbox.errors import ApiError
from sandbox.spec import Spec

AUTH = {"Authorization": api_key_authorization(DEFAULT_API_KEY)}


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture(autouse=True)
def _fresh_sandbox(sandbox: Sandbox) -> None:
    sandbox.reset()
    sandbox.clear_faults()
    sandbox.processing_delay_ms = 0
    sandbox.rotate_api_key(DEFAULT_API_KEY)


@pytest.fixture(scope="session")
def spec() -> Spec:
    return load_spec()


def check_response(spec: Spec, response: httpx.Response) -> None:
    """Fail unless the response matches its operation's schema, or the error shape."""
    response.read()
    raw_path = response.request.url.raw_path.decode("ascii").partition("?")[0]
    body = json.loads(response.content) if response.content else None
    try:
        op, _ = spec.route(response.request.method, raw_path)
    except ApiError:
        problems = spec.error_shape_errors(body)  # unknown path: always an error
    else:
        problems = spec.response_errors(op.operation_id, response.status_code, body)
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/json"
        assert isinstance(body, dict)
        assert body["StatusCode"] == response.status_code
    assert not problems, f"{response.request.method} {raw_path} -> {response.status_code}: {problems}"


def make_client(
    base_url: str,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 5,
    validate_with: Spec | None = None,
) -> httpx.Client:
    """A client for plain HTTP on loopback, optionally validating every response against the spec."""
    hooks: dict[str, list[Callable[..., Any]]] = {}
    if validate_with is not None:
        spec = validate_with
        hooks["response"] = [lambda r: check_response(spec, r)]
    # verify=False: there is no TLS here, and skipping the CA bundle saves ~50 ms per client.
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout, verify=False, event_hooks=hooks)


@pytest.fixture
def client(sandbox: Sandbox, spec: Spec) -> Iterator[httpx.Client]:
    """Authenticated with the default API key; validates every response."""
    with make_client(sandbox.url, headers=AUTH, validate_with=spec) as c:
        yield c


@pytest.fixture
def anon_client(sandbox: Sandbox, spec: Spec) -> Iterator[httpx.Client]:
    """No credentials; validates every response."""
    with make_client(sandbox.url, validate_with=spec) as c:
        yield c


@pytest.fixture
def raw_client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """Authenticated, without response validation (faults answer off-contract on purpose)."""
    with make_client(sandbox.url, headers=AUTH) as c:
        yield c


@pytest.fixture
def signed(anon_client: httpx.Client) -> Callable[..., httpx.Response]:
    """Send exact body bytes with the legacy Content-Signature of those bytes."""

    def send(method: str, path: str, body: bytes = b"", **headers: str) -> httpx.Response:
        signature = content_signature(DEFAULT_APPLICATION_ID, DEFAULT_APPLICATION_KEY_HEX, body)
        all_headers = {"Content-Signature": signature, "Content-Type": "application/json", **headers}
        return anon_client.request(method, path, content=body, headers=all_headers)

    return send


@pytest.fixture
def uid() -> Callable[[str], str]:
    """Unique ids, so a test never depends on another's data."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:10]}"


def item(sku: str = "sku-1", price: float = 10.0, quantity: int = 1, **extra: Any) -> dict[str, Any]:
    return {"name": f"Item {sku}", "sku": sku, "price": price, "quantity": quantity, **extra}


def v2(client: httpx.Client, session_id: str, session: dict[str, Any], *content: str) -> httpx.Response:
    body: dict[str, Any] = {"customerSession": session}
    if content:
        body["responseContent"] = list(content)
    return client.put(f"/v2/customer_sessions/{session_id}", json=body)


def effects_of(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    data = response.json()
    effects = data["effects"] if "effects" in data else data["event"]["effects"]
    return [(e["effectType"], e["props"]) for e in effects]


# Every responseContent value of today's IntegrationRequest, written out here rather than taken
# from the sandbox.
FULL_V2 = [
    "customerSession",
    "customerProfile",
    "coupons",
    "triggeredCampaigns",
    "referral",
    "loyalty",
    "event",
    "awardedGiveaways",
    "ruleFailureReasons",
    "previousReturns",
    "campaignEligibility",
    "achievements",
]
