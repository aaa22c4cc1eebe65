"""The admin endpoints under /_sandbox, for processes that drive the sandbox over HTTP."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from sandbox import DEFAULT_API_KEY, Sandbox
from sandbox.app import Request

from .conftest import make_client, v2


@pytest.fixture
def admin(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with make_client(f"{sandbox.url}/_sandbox") as c:
        yield c


def test_add_list_and_clear_faults(admin: httpx.Client, raw_client: httpx.Client, sandbox: Sandbox) -> None:
    # Given a fault added over HTTP
    created = admin.post(
        "/faults", json={"operation": "trackEvent", "action": "status", "status": 503, "count": 2}
    )
    # Then it is listed and applies
    assert created.status_code == 201
    assert admin.get("/faults").json()["faults"][0]["count"] == 2
    event = {"type": "x", "attributes": {}, "sessionId": "s"}
    assert raw_client.post("/v1/events", json=event).status_code == 503
    # When clearing
    assert admin.delete("/faults").status_code == 204
    # Then service is normal again
    assert sandbox.faults == []
    assert raw_client.post("/v1/events", json=event).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"operation": "trackEvent", "action": "status"},
        {"operation": "nope", "action": "drop"},
        {"operation": "trackEvent", "action": "drop", "colour": "red"},
        {"operation": "trackEvent", "action": "drop", "count": "2"},
        [1],
    ],
)
def test_invalid_fault_is_400(admin: httpx.Client, body: object) -> None:
    response = admin.post("/faults", json=body)
    assert response.status_code == 400
    assert response.json()["StatusCode"] == 400


def test_reset_restores_the_seed(admin: httpx.Client, client: httpx.Client, sandbox: Sandbox) -> None:
    # Given state changes and logged requests
    v2(client, "s-reset", {"couponCodes": ["ONCE-ONLY"], "state": "closed"})
    assert sandbox.state.coupons["ONCE-ONLY"]["usageCounter"] == 1
    # When resetting
    assert admin.post("/reset").status_code == 204
    # Then state, log and counters are back to the start
    assert sandbox.state.coupons["ONCE-ONLY"]["usageCounter"] == 0
    assert sandbox.state.sessions == {}
    assert sandbox.received == []
    assert sandbox.counts("updateCustomerSessionV2") == {"received": 0, "processed": 0}


def test_requests_log(admin: httpx.Client, client: httpx.Client) -> None:
    # Given a JSON request and one whose body is not UTF-8
    client.put("/v1/customer_profiles/a%2Fb?x=1", json={"attributes": {}}, headers={"X-Trace": "t1"})
    client.put("/v1/customer_profiles/bin", content=b"\xff\xfe")
    # When reading the log
    entries = admin.get("/requests").json()["requests"]
    # Then raw paths, query, headers as sent and bodies as text or base64
    first, second = entries
    assert (first["operation"], first["method"], first["path"], first["query"]) == (
        "updateCustomerProfile",
        "PUT",
        "/v1/customer_profiles/a%2Fb",
        "x=1",
    )
    assert ["X-Trace", "t1"] in first["headers"]
    assert (first["body"], first["bodyEncoding"]) == ('{"attributes":{}}', "utf-8")
    assert second["bodyEncoding"] == "base64"
    assert base64.b64decode(second["body"]) == b"\xff\xfe"
    filtered = admin.get("/requests", params={"operation": "trackEvent"}).json()["requests"]
    assert filtered == []


def test_counts(admin: httpx.Client, client: httpx.Client) -> None:
    client.put("/v1/customer_profiles/c1", json={})
    client.put("/v1/customer_profiles/c1", content=b"nope")
    counts = admin.get("/counts").json()
    assert counts["updateCustomerProfile"] == {"received": 2, "processed": 1}
    assert len(counts) == 43


def test_rotate_credentials(admin: httpx.Client, anon_client: httpx.Client) -> None:
    path = "/v1/coupon_reservations/coupons/c"
    assert admin.post("/credentials", json={"apiKey": "admin-rotated", "keepOld": True}).status_code == 204
    assert anon_client.get(path, headers={"Authorization": f"ApiKey-v1 {DEFAULT_API_KEY}"}).status_code == 200
    assert admin.post("/credentials", json={"apiKey": "admin-rotated-2"}).status_code == 204
    assert anon_client.get(path, headers={"Authorization": f"ApiKey-v1 {DEFAULT_API_KEY}"}).status_code == 401
    assert anon_client.get(path, headers={"Authorization": "ApiKey-v1 admin-rotated-2"}).status_code == 200
    assert admin.post("/credentials", json={"apiKey": ""}).status_code == 400


def test_state_endpoint(admin: httpx.Client, client: httpx.Client) -> None:
    v2(client, "s-state", {"profileId": "p-state"})
    state = admin.get("/state").json()
    assert set(state) == {
        "profiles",
        "sessions",
        "events",
        "coupons",
        "referrals",
        "reservations",
        "campaigns",
        "loyalty",
        "audiences",
        "catalogs",
        "achievements",
        "v3_events",
    }
    assert state["sessions"]["s-state"]["profileId"] == "p-state"
    assert state["reservations"] == {"VIP-ONLY": ["vip-customer"], "LENA-WALLET": ["loyal-1"]}
    assert set(state["loyalty"]) == {"programs", "cards", "transactions"}
    assert state["audiences"]["1"]["members"] == ["vip-customer", "loyal-1"]


def test_admin_requests_are_not_logged_or_counted(admin: httpx.Client, sandbox: Sandbox) -> None:
    admin.get("/counts")
    admin.get("/requests")
    assert sandbox.received == []


def test_unknown_admin_endpoint_is_404(admin: httpx.Client) -> None:
    assert admin.get("/nothing").status_code == 404
    assert admin.get("/reset").status_code == 404  # wrong method


def test_admin_refuses_non_loopback_clients(sandbox: Sandbox) -> None:
    # Given a request from another host (built directly: no traffic leaves the machine)
    request = Request("POST", "/_sandbox/reset", (), b"", client_host="192.0.2.10")
    mapped = Request("GET", "/_sandbox/counts", (), b"", client_host="::ffff:127.0.0.1")
    # Then it is refused, while IPv4-mapped loopback is accepted
    assert sandbox.app.handle(request).status == 403
    assert sandbox.app.handle(mapped).status == 200
