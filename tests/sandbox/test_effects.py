"""Effects of the seeded campaigns: coupons and referrals accepted or rejected, redemption, rollback."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from sandbox import Sandbox

from .conftest import FULL_V2, effects_of, item, v2

Uid = Callable[[str], str]
CART = [item(price=40, quantity=2)]  # cart total 80


def test_valid_percent_coupon_is_accepted_with_its_discount(client: httpx.Client, uid: Uid) -> None:
    # Given SUMMER20 (20% off) and a cart of 80
    # When a session uses it
    response = v2(client, uid("s"), {"profileId": uid("p"), "couponCodes": ["SUMMER20"], "cartItems": CART})
    # Then acceptCoupon and a 16.00 setDiscount, with the campaign's effect metadata
    assert effects_of(response) == [
        ("acceptCoupon", {"value": "SUMMER20"}),
        ("setDiscount", {"name": "Summer 20% off", "value": 16.0}),
    ]
    first = response.json()["effects"][0]
    assert (first["campaignId"], first["rulesetId"], first["ruleIndex"], first["ruleName"]) == (
        1,
        11,
        0,
        "Summer 20% off",
    )


def test_fixed_amount_coupon_is_capped_at_the_cart(client: httpx.Client, uid: Uid) -> None:
    full = v2(client, uid("s"), {"couponCodes": ["WELCOME10"], "cartItems": CART})
    small = v2(client, uid("s"), {"couponCodes": ["WELCOME10"], "cartItems": [item(price=6)]})
    assert effects_of(full)[1] == ("setDiscount", {"name": "Welcome 10 off", "value": 10.0})
    assert effects_of(small)[1] == ("setDiscount", {"name": "Welcome 10 off", "value": 6.0})


def test_coupon_with_encoded_characters_is_accepted(client: httpx.Client, uid: Uid) -> None:
    response = v2(client, uid("s"), {"couponCodes": ["SUMMER 20/50%"], "cartItems": CART})
    assert effects_of(response)[0] == ("acceptCoupon", {"value": "SUMMER 20/50%"})


def test_v1_coupon_and_discounts(client: httpx.Client, uid: Uid) -> None:
    # Given a v1 session with a stated total and no items
    response = client.put(f"/v1/customer_sessions/{uid('s')}", json={"coupon": "SUMMER20", "total": 50})
    # Then the discount applies to that total and shows in `discounts`
    assert response.json()["session"]["discounts"] == {"Summer 20% off": 10.0}
    assert effects_of(response)[0] == ("acceptCoupon", {"value": "SUMMER20"})


@pytest.mark.parametrize(
    ("code", "profile", "reason"),
    [
        ("NO-SUCH-CODE", "anyone", "CouponNotFound"),
        ("EXPIRED2020", "anyone", "CouponExpired"),
        ("USEDUP1", "anyone", "CouponLimitReached"),  # not in today's meta enum: meta leaves it out
        ("FUTURE2098", "anyone", "CouponStartDateInFuture"),
        ("PAUSED5", "anyone", "CouponPartOfNotRunningCampaign"),  # campaign disabled
        ("SPRING2020", "anyone", "CouponPartOfNotRunningCampaign"),  # campaign ended
        ("VIP-ONLY", "anyone", "CouponReservationRequired"),  # reservation mandatory, not a holder
        ("VIP-ONLY", "", "CouponReservationRequired"),
        ("ALICE-GIFT", "bob", "CouponRecipientDoesNotMatch"),  # recipientIntegrationId
    ],
)
def test_coupon_rejections(
    client: httpx.Client, sandbox: Sandbox, uid: Uid, code: str, profile: str, reason: str
) -> None:
    # When a session uses a coupon it cannot have
    sid = uid("s")
    response = v2(client, sid, {"profileId": profile, "couponCodes": [code], "cartItems": CART})
    # Then rejectCoupon with the spec's reason, no discount, and the reason in the event's meta
    assert effects_of(response) == [("rejectCoupon", {"value": code, "rejectionReason": reason})]
    assert sandbox.state.sessions[sid]["discounts"] == {}
    meta = sandbox.state.events[-1].get("meta", {})
    if reason == "CouponLimitReached":
        assert "couponRejectionReason" not in meta
    else:
        assert meta["couponRejectionReason"]["reason"] == reason


@pytest.mark.parametrize(("code", "profile"), [("VIP-ONLY", "vip-customer"), ("ALICE-GIFT", "alice")])
def test_restricted_coupons_are_accepted_for_their_customer(
    client: httpx.Client, uid: Uid, code: str, profile: str
) -> None:
    response = v2(client, uid("s"), {"profileId": profile, "couponCodes": [code], "cartItems": CART})
    assert effects_of(response)[0] == ("acceptCoupon", {"value": code})


def test_one_coupon_per_campaign(client: httpx.Client, uid: Uid) -> None:
    # Given two coupons of the same campaign and one of another
    codes = ["SUMMER20", "SUMMER 20/50%", "WELCOME10"]
    response = v2(client, uid("s"), {"couponCodes": codes, "cartItems": CART})
    # Then the second of the same campaign is rejected, the others accepted
    types = [(t, p.get("value")) for t, p in effects_of(response)]
    assert types == [
        ("acceptCoupon", "SUMMER20"),
        ("setDiscount", 16.0),
        ("rejectCoupon", "SUMMER 20/50%"),
        ("acceptCoupon", "WELCOME10"),
        ("setDiscount", 10.0),
    ]


def test_closing_redeems_coupon_and_counts_the_purchase(
    client: httpx.Client, sandbox: Sandbox, uid: Uid
) -> None:
    # Given a session with the single-use coupon ONCE-ONLY
    sid, pid = uid("s"), uid("p")
    v2(client, sid, {"profileId": pid, "couponCodes": ["ONCE-ONLY"], "cartItems": CART})
    # When it is closed
    closed = v2(client, sid, {"state": "closed"}, "customerProfile")
    # Then the coupon was accepted at closing and is now used up; the profile counts the sale
    assert effects_of(closed)[0] == ("acceptCoupon", {"value": "ONCE-ONLY"})
    assert sandbox.state.coupons["ONCE-ONLY"]["usageCounter"] == 1
    assert closed.json()["customerProfile"]["closedSessions"] == 1
    assert closed.json()["customerProfile"]["totalSales"] == 80
    assert sandbox.state.campaigns["1"]["couponRedemptionCount"] == 1
    # And another session cannot use it any more
    again = v2(client, uid("s"), {"couponCodes": ["ONCE-ONLY"]})
    assert effects_of(again) == [
        ("rejectCoupon", {"value": "ONCE-ONLY", "rejectionReason": "CouponLimitReached"})
    ]


def test_repeated_close_does_not_redeem_twice(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    sid, pid = uid("s"), uid("p")
    v2(client, sid, {"profileId": pid, "couponCodes": ["SUMMER20"], "cartItems": CART, "state": "closed"})
    v2(client, sid, {"state": "closed"})
    assert sandbox.state.coupons["SUMMER20"]["usageCounter"] == 1
    assert sandbox.state.profiles[pid]["closedSessions"] == 1


def test_cancelling_a_closed_session_rolls_back(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    # Given a closed session that redeemed SUMMER20
    sid, pid = uid("s"), uid("p")
    v2(client, sid, {"profileId": pid, "couponCodes": ["SUMMER20"], "cartItems": CART, "state": "closed"})
    # When it is cancelled
    cancelled = v2(client, sid, {"state": "cancelled"})
    # Then rollback effects, and the counters are back where they were
    assert effects_of(cancelled) == [
        ("rollbackCoupon", {"value": "SUMMER20"}),
        ("rollbackDiscount", {"name": "Summer 20% off", "value": 16.0}),
    ]
    assert sandbox.state.coupons["SUMMER20"]["usageCounter"] == 0
    assert sandbox.state.profiles[pid]["closedSessions"] == 0
    assert sandbox.state.profiles[pid]["totalSales"] == 0


def test_referral_is_accepted_for_a_friend(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    # Given advocate-1's referral code used by another customer
    sid = uid("s")
    response = v2(
        client, sid, {"profileId": uid("friend"), "referralCode": "REF-ADA-0001", "cartItems": CART}
    )
    # Then acceptReferral and the campaign's 5 off
    assert effects_of(response) == [
        ("acceptReferral", {"value": "REF-ADA-0001"}),
        ("setDiscount", {"name": "Friend 5 off", "value": 5.0}),
    ]
    # And closing redeems it (limit 1), so the next friend is refused
    v2(client, sid, {"state": "closed"})
    assert sandbox.state.referrals["REF-ADA-0001"]["usageCounter"] == 1
    again = v2(client, uid("s"), {"profileId": uid("friend"), "referralCode": "REF-ADA-0001"})
    assert effects_of(again)[0][1]["rejectionReason"] == "ReferralLimitReached"


@pytest.mark.parametrize(
    ("code", "profile", "reason"),
    [
        ("REF-ADA-0001", "advocate-1", "ReferralRecipientIdSameAsAdvocate"),
        ("REF-NOPE", "friend", "ReferralNotFound"),
        ("REF-EXPIRED", "friend", "ReferralExpired"),
        ("REF-USEDUP", "friend", "ReferralLimitReached"),
    ],
)
def test_referral_rejections(
    client: httpx.Client, sandbox: Sandbox, uid: Uid, code: str, profile: str, reason: str
) -> None:
    response = v2(client, uid("s"), {"profileId": profile, "referralCode": code})
    assert effects_of(response) == [("rejectReferral", {"value": code, "rejectionReason": reason})]
    assert sandbox.state.events[-1]["meta"]["referralRejectionReason"]["reason"] == reason


def test_v1_referral(client: httpx.Client, uid: Uid) -> None:
    response = client.put(
        f"/v1/customer_sessions/{uid('s')}", json={"profileId": "f1", "referral": "REF-ADA-0001"}
    )
    assert effects_of(response)[0] == ("acceptReferral", {"value": "REF-ADA-0001"})


def test_response_content_defaults_to_the_three_lists(client: httpx.Client, uid: Uid) -> None:
    response = v2(client, uid("s"), {"profileId": uid("p"), "couponCodes": ["SUMMER20"]})
    assert set(response.json()) == {"effects", "createdCoupons", "createdReferrals"}


def test_response_content_is_honoured(client: httpx.Client, uid: Uid) -> None:
    # Given every documented responseContent value
    content = FULL_V2
    session = {"profileId": uid("p"), "couponCodes": ["SUMMER20", "NOPE"], "referralCode": "REF-ADA-0001"}
    # When updating
    data = v2(client, uid("s"), session, *content).json()
    # Then each requested part is there
    assert set(data) == {"effects", "createdCoupons", "createdReferrals", *content}
    assert [c["value"] for c in data["coupons"]] == ["SUMMER20"]
    assert data["coupons"][0]["profileRedemptionCount"] == 0
    assert [c["id"] for c in data["triggeredCampaigns"]] == [1, 5]
    assert data["referral"]["code"] == "REF-ADA-0001"
    assert data["referral"]["referredCustomers"] == []
    assert data["loyalty"] == {"programs": {}}  # not a loyalty member
    assert data["event"]["effects"] == data["effects"]
    assert data["previousReturns"] == []
    assert [r["campaignID"] for r in data["ruleFailureReasons"]] == []  # NOPE belongs to no campaign


def test_unknown_response_content_is_refused(client: httpx.Client, uid: Uid) -> None:
    # Today's schema enumerates responseContent: an unknown value is a 400
    response = v2(client, uid("s"), {}, "customerSession", "bogus")
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == "/responseContent/1"


def test_response_content_subset(client: httpx.Client, uid: Uid) -> None:
    data = v2(client, uid("s"), {"profileId": ""}, "customerProfile", "event").json()
    # An anonymous session has no profile to return
    assert set(data) == {"effects", "createdCoupons", "createdReferrals", "event"}
