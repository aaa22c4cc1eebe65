"""dry=true evaluates and answers like the real request would, and changes nothing at all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from sandbox import Sandbox

from .conftest import FULL_V2, effects_of, item

Uid = Callable[[str], str]
CART = [item(price=40, quantity=2)]  # 80


def snapshot(sandbox: Sandbox) -> dict[str, Any]:
    return asdict(sandbox.state)


def dry_v2(
    client: httpx.Client, sid: str, session: dict[str, Any], *content: str, query: str = ""
) -> httpx.Response:
    body = {"customerSession": session, "responseContent": list(content)}
    return client.put(f"/v2/customer_sessions/{sid}?dry=true{query}", json=body)


def test_dry_close_answers_the_redemption_and_commits_nothing(
    client: httpx.Client, sandbox: Sandbox, uid: Uid
) -> None:
    # Given a loyalty member's open session with the single-use ONCE-ONLY
    sid = uid("s")
    client.put(
        f"/v2/customer_sessions/{sid}",
        json={"customerSession": {"profileId": "loyal-1", "couponCodes": ["ONCE-ONLY"], "cartItems": CART}},
    )
    before = snapshot(sandbox)
    # When closing it as a dry run
    response = dry_v2(client, sid, {"state": "closed"}, *FULL_V2)
    # Then the answer is the close's: coupon accepted, points added, session closed
    assert response.status_code == 200
    data = response.json()
    kinds = [kind for kind, _ in effects_of(response)]
    # 1 point per unit (program 1), 2 per unit on her card (program 2), 10 pending (program 1)
    assert kinds == [
        "acceptCoupon",
        "setDiscount",
        "addLoyaltyPoints",
        "addLoyaltyPoints",
        "addLoyaltyPoints",
    ]
    assert data["customerSession"]["state"] == "closed"
    assert data["customerSession"]["updateCount"] == 2
    # The points stay tentative: the ledger itself did not move
    ledger = data["loyalty"]["programs"]["1"]["ledger"]
    assert ledger["tentativeCurrentBalance"] == ledger["currentBalance"] + 80
    assert ledger["tentativePendingBalance"] == ledger["pendingBalance"] + 10
    # And nothing changed: session, coupon counters, profile, loyalty, events
    assert snapshot(sandbox) == before
    # The real close then does what the dry run said
    real = client.put(f"/v2/customer_sessions/{sid}", json={"customerSession": {"state": "closed"}})
    assert [kind for kind, _ in effects_of(real)] == kinds
    assert sandbox.state.coupons["ONCE-ONLY"]["usageCounter"] == 1


def test_dry_run_on_a_new_session_and_profile_stores_neither(
    client: httpx.Client, sandbox: Sandbox, uid: Uid
) -> None:
    sid, pid = uid("s"), uid("p")
    before = snapshot(sandbox)
    response = dry_v2(
        client,
        sid,
        {"profileId": pid, "couponCodes": ["SUMMER20"], "cartItems": CART},
        "customerSession",
        "customerProfile",
        "event",
    )
    assert response.status_code == 200
    assert response.json()["customerProfile"]["integrationId"] == pid
    assert response.json()["customerSession"]["integrationId"] == sid
    assert snapshot(sandbox) == before
    assert sandbox.counts("updateCustomerSessionV2") == {"received": 1, "processed": 1}


def test_dry_cancel_of_a_closed_session_rolls_back_nothing(
    client: httpx.Client, sandbox: Sandbox, uid: Uid
) -> None:
    sid = uid("s")
    client.put(
        f"/v2/customer_sessions/{sid}",
        json={"customerSession": {"profileId": "loyal-1", "cartItems": CART, "state": "closed"}},
    )
    before = snapshot(sandbox)
    response = dry_v2(client, sid, {"state": "cancelled"})
    assert [kind for kind, _ in effects_of(response)] == ["rollbackAddedLoyaltyPoints"] * 3
    assert snapshot(sandbox) == before


def test_dry_return_changes_nothing(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    sid = uid("s")
    client.put(
        f"/v2/customer_sessions/{sid}",
        json={"customerSession": {"profileId": "loyal-1", "cartItems": CART, "state": "closed"}},
    )
    before = snapshot(sandbox)
    body = {
        "return": {"returnedCartItems": [{"position": 0, "quantity": 1}]},
        "responseContent": ["customerSession"],
    }
    response = client.post(f"/v2/customer_sessions/{sid}/returns?dry=true", json=body)
    assert response.status_code == 200
    assert response.json()["customerSession"]["state"] == "partially_returned"
    assert snapshot(sandbox) == before


def test_dry_refusals_are_the_real_ones(client: httpx.Client, uid: Uid) -> None:
    # A dry run is validated like the real request: a cancelled session cannot close
    sid = uid("s")
    client.put(f"/v2/customer_sessions/{sid}", json={"customerSession": {"state": "cancelled"}})
    assert dry_v2(client, sid, {"state": "closed"}).status_code == 400


def test_now_is_the_evaluation_time_of_a_dry_run(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    # Given FUTURE2098, valid from 2098 in a campaign that runs until 2099
    session = {"couponCodes": ["FUTURE2098"], "cartItems": CART}
    today = dry_v2(client, uid("s"), session)
    in_2098 = dry_v2(client, uid("s"), session, query="&now=2098-06-01T00:00:00Z")
    # Then the coupon is refused today and accepted in 2098 (its campaign runs until 2099)
    assert effects_of(today)[0][1]["rejectionReason"] == "CouponStartDateInFuture"
    assert effects_of(in_2098)[0] == ("acceptCoupon", {"value": "FUTURE2098"})
    assert sandbox.state.sessions == {}


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ("?now=2099-01-01T00:00:00Z", "/query/now"),  # only with dry=true
        ("?dry=false&now=2099-01-01T00:00:00Z", "/query/now"),
        ("?dry=true&now=2020-01-01T00:00:00Z", "/query/now"),  # only a future date
        ("?dry=true&now=tomorrow", "/query/now"),
        ("?dry=yes", "/query/dry"),
    ],
)
def test_now_and_dry_are_checked(client: httpx.Client, sandbox: Sandbox, query: str, pointer: str) -> None:
    response = client.put(f"/v2/customer_sessions/s-now{query}", json={"customerSession": {}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == pointer
    assert sandbox.state.sessions == {}


def test_evaluable_campaign_ids_limit_a_dry_run_even_to_disabled_campaigns(
    client: httpx.Client, uid: Uid
) -> None:
    # Given PAUSED5 (campaign 3 is disabled) and SUMMER20 (campaign 1)
    session = {"couponCodes": ["PAUSED5", "SUMMER20"], "cartItems": CART, "evaluableCampaignIds": [3]}
    # When dry-running with only campaign 3 evaluable, and without dry
    dry = dry_v2(client, uid("s"), session)
    real = client.put(f"/v2/customer_sessions/{uid('s')}", json={"customerSession": session})
    # Then the dry run evaluates campaign 3 only, disabled or not
    assert [(k, p.get("value"), p.get("rejectionReason")) for k, p in effects_of(dry)] == [
        ("acceptCoupon", "PAUSED5", None),
        ("setDiscount", 5.0, None),
        ("rejectCoupon", "SUMMER20", "CouponPartOfNotTriggeredCampaign"),
    ]
    # And evaluableCampaignIds means nothing without dry
    assert effects_of(real)[0][1]["rejectionReason"] == "CouponPartOfNotRunningCampaign"


def test_dry_events_and_profiles_store_nothing(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    before = snapshot(sandbox)
    pid = uid("p")
    v2 = client.post("/v2/events?dry=true&silent=no", json={"profileId": pid, "type": "viewed_promo"})
    v3 = client.post(
        "/v3/events?dry=true", json={"profileId": pid, "type": "viewed_promo", "integrationId": "d1"}
    )
    profile = client.put(
        f"/v2/customer_profiles/{pid}?runRuleEngine=true&dry=true",
        json={
            "attributes": {"a": 1},
            "audiencesChanges": {"adds": [1], "deletes": []},
            "responseContent": ["customerProfile"],
        },
    )
    assert [v2.status_code, v3.status_code, profile.status_code] == [200, 200, 200]
    assert effects_of(v2)[0][0] == "showNotification"
    assert profile.json()["customerProfile"]["attributes"] == {"a": 1}
    assert snapshot(sandbox) == before
    # A dry v3 event does not take its integrationId
    assert (
        client.post("/v3/events", json={"profileId": pid, "type": "t", "integrationId": "d1"}).status_code
        == 200
    )


def test_force_complete_evaluation_requires_dry(client: httpx.Client) -> None:
    body = {"profileId": "p", "type": "viewed_promo"}
    refused = client.post("/v2/events?forceCompleteEvaluation=true", json=body)
    accepted = client.post("/v2/events?forceCompleteEvaluation=true&dry=true", json=body)
    assert (refused.status_code, accepted.status_code) == (400, 204)


def test_dry_profile_update_needs_the_rule_engine(client: httpx.Client, sandbox: Sandbox) -> None:
    response = client.put("/v2/customer_profiles/p-dry?dry=true", json={"attributes": {"a": 1}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == "/query/dry"
    assert "p-dry" not in sandbox.state.profiles


def test_future_now_check_uses_the_clock() -> None:
    # The fixed dates above are far enough from today for the suite to stay valid for decades
    assert datetime(2098, 1, 1, tzinfo=UTC) - datetime.now(UTC) > timedelta(days=365)
