"""End to end over HTTP: `python -m local_gateway` (what `make run` starts) against the sandbox.

The gateway runs as its own process group (moto, sandbox, forkserver and execution
environments included); the tests talk to it with httpx and look at the sandbox through its
admin endpoints, then stop it with SIGTERM and check that no process or port is left.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from local_gateway.process import GatewayProcess
from tests.support import log_tap, webhooks


@dataclass
class RunningGateway:
    url: str
    talon_url: str
    token: str
    webhook_secret: str
    curl_example: str
    client: httpx.Client

    def call(self, method: str, path: str, json: Any = None, **headers: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **headers}
        return self.client.request(method, self.url + path, json=json, headers=headers)


def _port_open(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((parts.hostname or "127.0.0.1", parts.port or 80)) == 0


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    running = GatewayProcess.start(workers=3, on_output=log_tap.record)
    text = running.banner
    assert text.endswith("Ctrl-C stops everything."), text
    curl = text[text.index("curl ") : text.index("\nOr: ")]
    values = running.values
    with httpx.Client(timeout=30) as client:
        yield RunningGateway(
            values["Gateway"],
            values["Talon.One"],
            values["Bearer token"],
            values["Webhook secret"],
            curl,
            client,
        )

    # Ctrl-C (SIGTERM here) stops everything: the process exits cleanly, nothing is left behind
    assert running.stop() == 0
    assert running.group_gone(within=10), "processes of the local gateway outlived it"
    assert not _port_open(values["Gateway"])
    assert not _port_open(values["Talon.One"])


def effects(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    return [(e["effectType"], e["props"]) for e in response.json()["effects"]]


def test_the_printed_curl_example_works(gateway: RunningGateway) -> None:
    # Given the ready-to-paste example the run command prints
    # When it is run in a shell
    result = subprocess.run(
        ["bash", "-c", gateway.curl_example.replace("curl -sS", "curl -sS -w '\\n%{http_code}'")],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    body, status = result.stdout.rsplit("\n", 1)

    # Then Talon.One's answer comes back with the coupon accepted
    assert status == "200", body
    assert '"acceptCoupon"' in body


def test_storefront_story(gateway: RunningGateway) -> None:
    # The customer signs up: a profile update (v2)
    profile = gateway.call(
        "PUT",
        "/v2/customer_profiles/customer-e2e?runRuleEngine=true",
        {"attributes": {"Name": "Eve Example", "City": "Porto"}, "responseContent": ["customerProfile"]},
    )
    assert profile.status_code == 200, profile.text
    assert profile.json()["customerProfile"]["attributes"]["Name"] == "Eve Example"

    # Cart updates: one coupon accepted, one rejected
    cart = {
        "profileId": "customer-e2e",
        "couponCodes": ["SUMMER20", "NOT-A-COUPON"],
        "cartItems": [
            {"name": "Trail shoes", "sku": "SKU-1", "quantity": 2, "price": 50},
            {"name": "Socks", "sku": "SKU-2", "quantity": 1, "price": 10},
        ],
    }
    first = gateway.call(
        "PUT",
        "/v2/customer_sessions/cart-e2e",
        {"customerSession": cart, "responseContent": ["customerSession"]},
    )
    assert first.status_code == 200, first.text
    found = effects(first)
    assert ("acceptCoupon", {"value": "SUMMER20"}) in found
    assert any(kind == "rejectCoupon" and props["value"] == "NOT-A-COUPON" for kind, props in found)
    assert any(kind == "setDiscount" for kind, _ in found)
    assert first.json()["customerSession"]["cartItemTotal"] == 110.0
    # A dry run changes nothing
    dry = gateway.call(
        "PUT",
        "/v2/customer_sessions/cart-e2e?dry=true",
        {"customerSession": {"couponCodes": []}, "responseContent": ["customerSession"]},
    )
    assert dry.status_code == 200, dry.text
    # A later update that omits couponCodes keeps them (cumulative PUT through the gateway)
    second = gateway.call(
        "PUT",
        "/v2/customer_sessions/cart-e2e",
        {
            "customerSession": {"additionalCosts": {"shipping": {"price": 5}}},
            "responseContent": ["customerSession"],
        },
    )
    assert second.json()["customerSession"]["couponCodes"] == ["SUMMER20", "NOT-A-COUPON"]
    assert second.json()["customerSession"]["total"] == 115.0

    # An event is tracked for the customer
    event = gateway.call(
        "POST",
        "/v2/events?silent=no",
        {"profileId": "customer-e2e", "type": "viewed_promo", "attributes": {"page": "summer"}},
    )
    assert event.status_code == 200, event.text

    # The session is closed (the purchase), then one pair of shoes is returned
    closed = gateway.call("PUT", "/v2/customer_sessions/cart-e2e", {"customerSession": {"state": "closed"}})
    assert closed.status_code == 200, closed.text
    returned = gateway.call(
        "POST",
        "/v2/customer_sessions/cart-e2e/returns",
        {
            "return": {"returnedCartItems": [{"position": 0, "quantity": 1}]},
            "responseContent": ["customerSession"],
        },
    )
    assert returned.status_code == 200, returned.text
    assert returned.json()["customerSession"]["state"] == "partially_returned"
    read = gateway.call("GET", "/v2/customer_sessions/cart-e2e")
    assert read.status_code == 200, read.text
    assert read.json()["customerSession"]["state"] == "partially_returned"

    # A coupon is reserved for the customer, and listed both ways (the code needs encoding)
    reserved = gateway.call(
        "POST", "/v1/coupon_reservations/SUMMER%2020%2F50%25", {"integrationIDs": ["customer-e2e"]}
    )
    assert reserved.status_code == 201, reserved.text
    assert reserved.json()["value"] == "SUMMER 20/50%"
    coupons = gateway.call("GET", "/v1/coupon_reservations/coupons/customer-e2e").json()
    assert "SUMMER 20/50%" in [c["value"] for c in coupons["data"]]
    holders = gateway.call("GET", "/v1/coupon_reservations/customerprofiles/SUMMER%2020%2F50%25").json()
    assert "customer-e2e" in [p["integrationId"] for p in holders["data"]]

    # A referral code is created for the customer
    referral = gateway.call(
        "POST", "/v1/referrals", {"campaignId": 5, "advocateProfileIntegrationId": "customer-e2e"}
    )
    assert referral.status_code == 201, referral.text
    code = referral.json()["code"]

    # The inventory shows the profile and the referral
    inventory = gateway.call(
        "GET", "/v1/customer_profiles/customer-e2e/inventory?profile=true&referrals=true"
    ).json()
    assert inventory["profile"]["attributes"] == {"Name": "Eve Example", "City": "Porto"}
    assert [r["code"] for r in inventory["referrals"]] == [code]

    # The customer asks for erasure
    erased = gateway.call("DELETE", "/v1/customer_data/customer-e2e")
    assert erased.status_code == 204
    assert erased.content == b""

    # The inventory shows it erased
    after = gateway.call("GET", "/v1/customer_profiles/customer-e2e/inventory?profile=true").json()
    assert after["profile"]["attributes"] == {}

    # And the reservation can be removed
    removed = gateway.call(
        "DELETE", "/v1/coupon_reservations/SUMMER%2020%2F50%25", {"integrationIDs": ["customer-e2e"]}
    )
    assert removed.status_code == 204


def test_signed_webhook_is_accepted_once_and_replayed(gateway: RunningGateway) -> None:
    # Given a storefront webhook signed with the printed secret
    body = b'{"profileId":"customer-hook","type":"order_paid","attributes":{"total":42}}'
    event = webhooks.sign({"headers": {}, "body": body.decode()}, gateway.webhook_secret, "msg_e2e_1")
    headers = event["headers"] | {"Content-Type": "application/json"}

    # When it is delivered twice (a retrying sender)
    first = gateway.client.post(gateway.url + "/v2/events?silent=no", content=body, headers=headers)
    second = gateway.client.post(gateway.url + "/v2/events?silent=no", content=body, headers=headers)

    # Then the sandbox recorded it once, and the second answer is the stored one
    assert first.status_code == 200, first.text
    assert second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content
    recorded = httpx.get(gateway.talon_url + "/_sandbox/requests?operation=trackEventV2").json()
    bodies = [r["body"] for r in recorded["requests"] if "customer-hook" in r["body"]]
    assert len(bodies) == 1


def test_refusals_over_http(gateway: RunningGateway) -> None:
    unauthenticated = gateway.client.get(gateway.url + "/v1/coupon_reservations/coupons/customer-1")
    assert unauthenticated.status_code == 401
    assert "www-authenticate" in unauthenticated.headers
    invalid = gateway.call("PUT", "/v2/customer_sessions/cart-x", {"customerSession": {"profileID": "typo"}})
    assert invalid.status_code == 400
    assert invalid.json()["errors"][0]["source"] == {"pointer": "/customerSession/profileID"}
    unknown = gateway.call("GET", "/v9/nothing")
    assert unknown.status_code == 404
    assert unknown.json()["StatusCode"] == 404
    assert "x-correlation-id" in unknown.headers


def test_sandbox_errors_pass_through(gateway: RunningGateway) -> None:
    missing = gateway.call("POST", "/v1/coupon_reservations/NO-SUCH-COUPON", {"integrationIDs": ["c1"]})
    assert missing.status_code == 404
    assert missing.json()["StatusCode"] == 404
