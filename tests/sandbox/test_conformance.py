"""Every operation's responses, success and error, validated against the spec's schemas."""

from __future__ import annotations

import json
from typing import Any

import httpx

from sandbox import Sandbox, Spec

from .conftest import FULL_V2, item


def _calls() -> list[tuple[str, str, str, Any, int]]:
    """(operationId, method, path, json body or None, expected status), in an order that builds state."""
    return [
        ("updateCustomerProfile", "PUT", "/v1/customer_profiles/conf-p", {"attributes": {"a": 1}}, 200),
        (
            "updateCustomerSession",
            "PUT",
            "/v1/customer_sessions/conf-s1",
            {"profileId": "conf-p", "coupon": "SUMMER20", "cartItems": [item()], "total": 10},
            200,
        ),
        (
            "updateCustomerSessionV2",
            "PUT",
            "/v2/customer_sessions/conf-s2",
            {
                "customerSession": {
                    "profileId": "conf-p",
                    "couponCodes": ["SUMMER20", "NOPE"],
                    "referralCode": "REF-ADA-0001",
                    "cartItems": [item(attributes={"x": 1})],
                    "additionalCosts": {"shipping": {"price": 3}},
                    "state": "closed",
                },
                "responseContent": FULL_V2,
            },
            200,
        ),
        (
            "updateCustomerSessionV2",
            "PUT",
            "/v2/customer_sessions/conf-s2",
            {"customerSession": {"state": "cancelled"}, "responseContent": FULL_V2},
            200,
        ),
        ("updateCustomerSessionV2", "PUT", "/v2/customer_sessions/conf-s3", {"customerSession": {}}, 200),
        (
            "trackEvent",
            "POST",
            "/v1/events",
            {"type": "viewed_promo", "attributes": {}, "sessionId": "conf-s4"},
            200,
        ),
        (
            "createCouponReservation",
            "POST",
            "/v1/coupon_reservations/SUMMER20",
            {"integrationIDs": ["conf-p"]},
            200,
        ),
        ("getReservedCoupons", "GET", "/v1/coupon_reservations/coupons/conf-p", None, 200),
        ("getReservedCustomers", "GET", "/v1/coupon_reservations/customerprofiles/SUMMER20", None, 200),
        (
            "deleteCouponReservation",
            "DELETE",
            "/v1/coupon_reservations/SUMMER20",
            {"integrationIDs": ["conf-p"]},
            204,
        ),
        (
            "createReferral",
            "POST",
            "/v1/referrals",
            {"campaignId": 5, "advocateProfileIntegrationId": "conf-p"},
            200,
        ),
        (
            "getCustomerInventory",
            "GET",
            "/v1/customer_profiles/conf-p/inventory?profile=true&referrals=true",
            None,
            200,
        ),
        ("deleteCustomerData", "DELETE", "/v1/customer_data/conf-p", None, 204),
        # Errors of each kind
        ("getCustomerInventory", "GET", "/v1/customer_profiles/nobody/inventory", None, 404),
        (
            "createReferral",
            "POST",
            "/v1/referrals",
            {"campaignId": 1, "advocateProfileIntegrationId": "x"},
            400,
        ),
        ("trackEvent", "POST", "/v1/events", {"type": ""}, 400),
        (
            "updateCustomerSessionV2",
            "PUT",
            "/v2/customer_sessions/conf-s2",
            {"customerSession": {"state": "open"}},
            400,
        ),
    ]


def test_every_operation_answers_per_its_schema(
    raw_client: httpx.Client, spec: Spec, sandbox: Sandbox
) -> None:
    # Given a walk through all 11 operations, successes and errors
    seen: set[str] = set()
    for operation, method, path, body, expected in _calls():
        # When calling each
        response = (
            raw_client.request(method, path, json=body)
            if body is not None
            else raw_client.request(method, path)
        )
        # Then the status is the expected one and the body matches the spec's schema
        assert response.status_code == expected, (operation, response.text)
        payload = json.loads(response.content) if response.content else None
        assert spec.response_errors(operation, response.status_code, payload) == [], operation
        seen.add(operation)
    assert seen == set(spec.operations)
    assert sandbox.counts("updateCustomerSessionV2")["processed"] == 3


def test_unauthorized_error_matches_the_error_shape(anon_client: httpx.Client, spec: Spec) -> None:
    response = anon_client.get("/v1/coupon_reservations/coupons/x")
    assert spec.response_errors("getReservedCoupons", 401, response.json()) == []


def test_schema_check_catches_a_broken_response(spec: Spec) -> None:
    # The validator used above is not vacuous: a response missing required parts fails
    assert spec.response_errors("updateCustomerSessionV2", 200, {"effects": []})
    assert spec.response_errors("createCouponReservation", 200, {"value": "ab"})
    assert spec.response_errors("deleteCustomerData", 204, {"x": 1})
    assert spec.response_errors("trackEvent", 400, {"message": "m"})


def test_state_snapshot_is_in_wire_format(client: httpx.Client, sandbox: Sandbox, spec: Spec) -> None:
    # Given some state: a session with a coupon and a referral, and a generated referral
    client.put(
        "/v2/customer_sessions/snap",
        json={"customerSession": {"profileId": "snap-p", "couponCodes": ["SUMMER20"], "cartItems": [item()]}},
    )
    client.post("/v1/referrals", json={"campaignId": 5, "advocateProfileIntegrationId": "snap-p"})
    state = sandbox.state
    # Then every entity of the snapshot matches its schema
    samples = [
        *(("Coupon", c) for c in state.coupons.values()),
        *(("Referral", r) for r in state.referrals.values()),
        *(("CustomerProfile", p) for p in state.profiles.values()),
        *(("Event", e) for e in state.events),
        *(("Campaign", c) for c in state.campaigns.values()),
    ]
    assert [
        (name, spec.field_errors(name, sample)) for name, sample in samples if spec.field_errors(name, sample)
    ] == []
