"""Coupon reservations, referral creation, customer inventory and customer data deletion."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from sandbox import Sandbox

from .conftest import effects_of, item, v2

Uid = Callable[[str], str]


def reserve(client: httpx.Client, code: str, *ids: str) -> httpx.Response:
    return client.post(f"/v1/coupon_reservations/{code}", json={"integrationIDs": list(ids)})


def test_reservation_returns_the_coupon(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    pid = uid("p")
    response = reserve(client, "SUMMER20", pid, pid)
    assert response.status_code == 201
    assert response.json()["value"] == "SUMMER20"
    assert sandbox.state.reservations["SUMMER20"] == [pid]


def test_reservation_of_unknown_coupon_is_404(client: httpx.Client, sandbox: Sandbox) -> None:
    response = reserve(client, "NO-SUCH", "p")
    delete = client.request("DELETE", "/v1/coupon_reservations/NO-SUCH", json={"integrationIDs": ["p"]})
    listing = client.get("/v1/coupon_reservations/customerprofiles/NO-SUCH")
    assert [response.status_code, delete.status_code, listing.status_code] == [404, 404, 404]
    assert sandbox.counts("createCouponReservation") == {"received": 1, "processed": 0}


def test_delete_reservation_is_204_without_body(client: httpx.Client, sandbox: Sandbox) -> None:
    reserve(client, "SUMMER20", "a", "b")
    response = client.request(
        "DELETE", "/v1/coupon_reservations/SUMMER20", json={"integrationIDs": ["a", "x"]}
    )
    assert response.status_code == 204
    assert response.content == b""
    assert sandbox.state.reservations["SUMMER20"] == ["b"]


def test_reserved_customers_lists_profiles(client: httpx.Client, uid: Uid) -> None:
    # Given a reservation for a known profile and one for an id without a profile
    known, unknown = uid("known"), uid("unknown")
    client.put(f"/v1/customer_profiles/{known}", json={"attributes": {"name": "K"}})
    reserve(client, "SUMMER%2020%2F50%25", known, unknown)
    # When listing the coupon's customers
    data = client.get("/v1/coupon_reservations/customerprofiles/SUMMER%2020%2F50%25").json()
    # Then both are listed: the stored profile and an empty stand-in
    assert data["totalResultSize"] == 2
    assert [(p["integrationId"], p["attributes"]) for p in data["data"]] == [
        (known, {"name": "K"}),
        (unknown, {}),
    ]


def test_reserved_coupons_lists_only_valid_usable_ones(client: httpx.Client, uid: Uid) -> None:
    # Given reservations of valid, expired, used-up, disabled and recipient-bound coupons
    pid = uid("p")
    for code in ["SUMMER20", "EXPIRED2020", "USEDUP1", "PAUSED5", "ALICE-GIFT", "WELCOME10"]:
        assert reserve(client, code, pid).status_code == 201
    # When listing the customer's reserved coupons
    data = client.get(f"/v1/coupon_reservations/coupons/{pid}").json()
    # Then only the usable ones
    assert data["totalResultSize"] == 2
    assert [c["value"] for c in data["data"]] == ["SUMMER20", "WELCOME10"]


def test_reservation_unlocks_a_reservation_mandatory_coupon(client: httpx.Client, uid: Uid) -> None:
    # Given MEMBERS-ONLY, redeemable only once reserved (isReservationMandatory)
    pid = uid("p")
    before = v2(client, uid("s"), {"profileId": pid, "couponCodes": ["MEMBERS-ONLY"]})
    # When the customer gets a reservation
    assert reserve(client, "MEMBERS-ONLY", pid).json()["isReservationMandatory"] is True
    after = v2(client, uid("s"), {"profileId": pid, "couponCodes": ["MEMBERS-ONLY"], "cartItems": [item()]})
    # Then the coupon is refused before (today's reason) and accepted after
    assert effects_of(before)[0] == (
        "rejectCoupon",
        {"value": "MEMBERS-ONLY", "rejectionReason": "CouponReservationRequired"},
    )
    assert effects_of(after)[0] == ("acceptCoupon", {"value": "MEMBERS-ONLY"})


def test_personal_code_is_reserved_for_one_customer_only(client: httpx.Client, sandbox: Sandbox) -> None:
    # Given VIP-ONLY, a personal code (reservation: false) held by vip-customer
    # When reserving it for someone else, then for its holder again
    other = reserve(client, "VIP-ONLY", "someone-else")
    again = reserve(client, "VIP-ONLY", "vip-customer")
    # Then the other customer is refused and the holder stays the only one
    assert (other.status_code, again.status_code) == (400, 201)
    assert other.json()["errors"][0]["source"]["pointer"] == "/integrationIDs"
    assert sandbox.state.reservations["VIP-ONLY"] == ["vip-customer"]


def test_reservation_creates_the_customer_profile(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    pid = uid("p")
    reserve(client, "SUMMER20", pid)
    assert sandbox.state.profiles[pid]["attributes"] == {}


REF_PATTERN = re.compile(r"^REF-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$")


def test_create_referral_generates_unique_codes(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    # Given the referral campaign's settings (pattern REF-####-####, no I/O/0/1)
    advocate = uid("adv")
    # When creating many referrals
    responses = [
        client.post("/v1/referrals", json={"campaignId": 5, "advocateProfileIntegrationId": advocate})
        for _ in range(40)
    ]
    # Then every code follows the pattern and is unique; the advocate's profile exists
    codes = [r.json()["code"] for r in responses]
    assert all(r.status_code == 201 for r in responses)
    assert all(REF_PATTERN.match(c) for c in codes), codes
    assert len(set(codes)) == len(codes)
    first = responses[0].json()
    assert (first["campaignId"], first["usageLimit"], first["usageCounter"]) == (5, 1, 0)
    assert advocate in sandbox.state.profiles


def test_created_referral_keeps_friend_and_dates(client: httpx.Client) -> None:
    body = {
        "campaignId": 5,
        "advocateProfileIntegrationId": "advocate-1",
        "friendProfileIntegrationId": "friend-1",
        "startDate": "2020-01-01T00:00:00Z",
        "expiryDate": "2099-01-01T00:00:00+02:00",
    }
    data = client.post("/v1/referrals", json=body).json()
    assert data["friendProfileIntegrationId"] == "friend-1"
    assert data["expiryDate"] == "2098-12-31T22:00:00Z"
    # Only the named friend can use it
    other = v2(client, "s-other-friend", {"profileId": "friend-2", "referralCode": data["code"]})
    friend = v2(client, "s-friend", {"profileId": "friend-1", "referralCode": data["code"]})
    assert effects_of(other)[0][1]["rejectionReason"] == "ReferralRecipientDoesNotMatch"
    assert effects_of(friend)[0] == ("acceptReferral", {"value": data["code"]})


def test_referral_for_unknown_or_non_referral_campaign_is_400(client: httpx.Client, sandbox: Sandbox) -> None:
    unknown = client.post("/v1/referrals", json={"campaignId": 999, "advocateProfileIntegrationId": "a"})
    coupons_only = client.post("/v1/referrals", json={"campaignId": 1, "advocateProfileIntegrationId": "a"})
    empty_advocate = client.post("/v1/referrals", json={"campaignId": 5, "advocateProfileIntegrationId": ""})
    assert [unknown.status_code, coupons_only.status_code, empty_advocate.status_code] == [400, 400, 400]
    assert unknown.json()["errors"][0]["source"]["pointer"] == "/campaignId"
    assert sandbox.counts("createReferral") == {"received": 3, "processed": 0}


def test_inventory_flags(client: httpx.Client) -> None:
    # Given advocate-1 with three seeded referrals
    path = "/v1/customer_profiles/advocate-1/inventory"
    # When asking with each combination of flags
    nothing = client.get(path).json()
    profile = client.get(path, params={"profile": "true"}).json()
    referrals = client.get(path, params={"referrals": "true", "profile": "false"}).json()
    both = client.get(path, params={"referrals": "true", "profile": "true"}).json()
    # Then each part is there only when asked for
    assert nothing == {}
    assert set(profile) == {"profile"}
    assert profile["profile"]["attributes"]["name"] == "Ada Advocate"
    assert set(referrals) == {"referrals"}
    assert [r["code"] for r in referrals["referrals"]] == ["REF-ADA-0001", "REF-EXPIRED", "REF-USEDUP"]
    assert set(both) == {"profile", "referrals"}


def test_inventory_of_unknown_profile_is_404(client: httpx.Client) -> None:
    response = client.get("/v1/customer_profiles/nobody-here/inventory?profile=true")
    assert response.status_code == 404


def test_customer_data_deletion_erases_attributes_everywhere(
    client: httpx.Client, sandbox: Sandbox, uid: Uid
) -> None:
    # Given a profile with attributes, a session with attributes and cart item attributes, and events
    pid, sid, other = uid("p"), uid("s"), uid("other")
    client.put(f"/v1/customer_profiles/{pid}", json={"attributes": {"email": "x@example.com"}})
    v2(
        client,
        sid,
        {
            "profileId": pid,
            "attributes": {"address": "1 Main St"},
            "cartItems": [item(attributes={"engraving": "X"})],
        },
    )
    client.post(
        "/v1/events",
        json={"profileId": pid, "type": "clicked", "attributes": {"ip": "1.2.3.4"}, "sessionId": sid},
    )
    client.put(f"/v1/customer_profiles/{other}", json={"attributes": {"keep": True}})
    # When deleting the customer's data
    response = client.delete(f"/v1/customer_data/{pid}")
    # Then 204, and every attribute that references the profile is gone; others are untouched
    assert response.status_code == 204
    assert response.content == b""
    state = sandbox.state
    assert state.profiles[pid]["attributes"] == {}
    assert state.sessions[sid]["attributes"] == {}
    assert "attributes" not in state.sessions[sid]["cartItems"][0]
    assert all(e["attributes"] == {} for e in state.events if e["profileId"] == pid)
    assert state.profiles[other]["attributes"] == {"keep": True}


def test_customer_data_deletion_of_unknown_profile_is_404(client: httpx.Client, sandbox: Sandbox) -> None:
    response = client.delete("/v1/customer_data/nobody-here")
    assert response.status_code == 404
    assert sandbox.counts("deleteCustomerData") == {"received": 1, "processed": 0}
