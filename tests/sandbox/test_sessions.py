"""Profiles, sessions and events: creation on first use, ownership, states, cumulative PUTs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx
import pytest

from sandbox import Sandbox

from .conftest import item, v2

Uid = Callable[[str], str]


def v1(client: httpx.Client, session_id: str, body: dict[str, object]) -> httpx.Response:
    return client.put(f"/v1/customer_sessions/{session_id}", json=body)


def test_session_update_creates_session_and_empty_profile(
    client: httpx.Client, sandbox: Sandbox, uid: Uid
) -> None:
    # Given an unknown session and an unknown profile
    sid, pid = uid("s"), uid("p")
    # When updating the session
    response = v2(client, sid, {"profileId": pid}, "customerSession", "customerProfile")
    # Then both exist: an open session and an empty profile
    data = response.json()
    assert data["customerSession"]["state"] == "open"
    assert data["customerSession"]["firstSession"] is True
    assert data["customerProfile"]["attributes"] == {}
    assert pid in sandbox.state.profiles
    assert sandbox.state.sessions[sid]["profileId"] == pid


def test_anonymous_session_creates_no_profile(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    # Given profileId "" (anonymous)
    sid = uid("s")
    # When updating through v1
    response = v1(client, sid, {"profileId": ""})
    # Then the response still has an (empty) profile, but none is stored
    assert response.status_code == 200
    assert response.json()["profile"]["integrationId"] == ""
    assert response.json()["session"]["firstSession"] is True
    assert "" not in sandbox.state.profiles


def test_second_session_of_a_profile_is_not_first(client: httpx.Client, uid: Uid) -> None:
    pid = uid("p")
    v2(client, uid("s"), {"profileId": pid})
    response = v2(client, uid("s"), {"profileId": pid}, "customerSession")
    assert response.json()["customerSession"]["firstSession"] is False


@pytest.mark.parametrize("api", ["v1", "v2", "event"])
def test_session_of_another_profile_is_refused(
    client: httpx.Client, sandbox: Sandbox, uid: Uid, api: str
) -> None:
    # Given a session that belongs to one profile
    sid = uid("s")
    v2(client, sid, {"profileId": "owner"})
    # When a later update or event names another profile for it
    if api == "v1":
        response, pointer = v1(client, sid, {"profileId": "intruder"}), "/profileId"
    elif api == "v2":
        response, pointer = v2(client, sid, {"profileId": "intruder"}), "/customerSession/profileId"
    else:
        body = {"profileId": "intruder", "type": "clicked", "attributes": {}, "sessionId": sid}
        response, pointer = client.post("/v1/events", json=body), "/profileId"
    # Then 400 pointing at profileId, and nothing changed
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == pointer
    assert sandbox.state.sessions[sid]["profileId"] == "owner"
    assert "intruder" not in sandbox.state.profiles


def test_anonymous_session_can_be_claimed_once(client: httpx.Client, uid: Uid) -> None:
    # Given an anonymous open session
    sid = uid("s")
    v2(client, sid, {"profileId": ""})
    # When a customer signs in, then another one tries
    claimed = v2(client, sid, {"profileId": "signed-in"}, "customerSession")
    other = v2(client, sid, {"profileId": "someone-else"})
    # Then the first claim sticks and the second is refused
    assert claimed.json()["customerSession"]["profileId"] == "signed-in"
    assert other.status_code == 400


@pytest.mark.parametrize(
    ("states", "final"),
    [
        (["open"], "open"),
        (["closed"], "closed"),  # created and closed at once
        (["open", "closed"], "closed"),
        (["open", "cancelled"], "cancelled"),
        (["open", "closed", "cancelled"], "cancelled"),
        (["open", "closed", "closed"], "closed"),  # idempotent repeat of the close
        (["open", "open"], "open"),
    ],
)
def test_allowed_state_transitions(client: httpx.Client, uid: Uid, states: list[str], final: str) -> None:
    sid = uid("s")
    for state in states:
        response = v2(client, sid, {"profileId": "t", "state": state}, "customerSession")
        assert response.status_code == 200, (state, response.text)
    assert response.json()["customerSession"]["state"] == final


@pytest.mark.parametrize(
    ("history", "refused"),
    [
        (["closed"], "open"),
        (["cancelled"], "open"),
        (["cancelled"], "closed"),
        (["cancelled"], "cancelled"),
        (["closed", "cancelled"], "closed"),
    ],
)
def test_refused_state_transitions(
    client: httpx.Client, sandbox: Sandbox, uid: Uid, history: list[str], refused: str
) -> None:
    # Given a session that went through `history`
    sid = uid("s")
    for state in history:
        assert v2(client, sid, {"state": state}).status_code == 200
    before = sandbox.state.sessions[sid]
    # When asking for a refused transition
    response = v2(client, sid, {"state": refused})
    # Then 400 pointing at the state, and the session is unchanged
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == "/customerSession/state"
    assert sandbox.state.sessions[sid] == before


def test_v1_refuses_transitions_too(client: httpx.Client, uid: Uid) -> None:
    sid = uid("s")
    v1(client, sid, {"state": "cancelled"})
    response = v1(client, sid, {"state": "open"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == "/state"


def test_closed_session_cannot_be_changed_otherwise(client: httpx.Client, uid: Uid) -> None:
    # Given a closed session
    sid = uid("s")
    v2(client, sid, {"cartItems": [item()], "state": "closed"})
    # When changing its cart (state omitted = stays closed)
    response = v2(client, sid, {"cartItems": [item(), item("sku-2")]})
    # Then 400; cancelling it is still possible
    assert response.status_code == 400
    assert v2(client, sid, {"state": "cancelled"}).status_code == 200


def test_events_on_a_cancelled_session_are_recorded(client: httpx.Client, uid: Uid) -> None:
    sid = uid("s")
    v2(client, sid, {"state": "cancelled"})
    body = {"type": "clicked", "attributes": {}, "sessionId": sid}
    assert client.post("/v1/events", json=body).status_code == 200


def test_v2_cumulative_put_keeps_omitted_and_clears_empty(client: httpx.Client, uid: Uid) -> None:
    # Given a session with coupons, referral, cart, costs, identifiers and attributes
    sid = uid("s")
    first = {
        "profileId": uid("p"),
        "couponCodes": ["SUMMER20"],
        "referralCode": "REF-ADA-0001",
        "cartItems": [item(price=50)],
        "additionalCosts": {"shipping": {"price": 4.5}},
        "identifiers": ["device-1"],
        "attributes": {"channel": "web", "gift": False},
    }
    v2(client, sid, first)
    # When updating only the attributes
    kept = v2(client, sid, {"attributes": {"gift": True}}, "customerSession").json()["customerSession"]
    # Then everything omitted is kept and attributes are merged key by key
    assert kept["couponCodes"] == ["SUMMER20"]
    assert kept["referralCode"] == "REF-ADA-0001"
    assert [i["sku"] for i in kept["cartItems"]] == ["sku-1"]
    assert kept["additionalCosts"] == {"shipping": {"price": 4.5}}
    assert kept["identifiers"] == ["device-1"]
    assert kept["attributes"] == {"channel": "web", "gift": True}
    # When sending empty couponCodes and referralCode
    cleared = v2(client, sid, {"couponCodes": [], "referralCode": ""}, "customerSession")
    # Then they are cleared (and no coupon/referral effect remains)
    session = cleared.json()["customerSession"]
    assert (session["couponCodes"], session["referralCode"]) == ([], "")
    assert cleared.json()["effects"] == []


def test_v1_cumulative_put_keeps_omitted_and_clears_empty(client: httpx.Client, uid: Uid) -> None:
    sid = uid("s")
    v1(client, sid, {"profileId": uid("p"), "coupon": "SUMMER20", "referral": "REF-ADA-0001", "total": 80})
    kept = v1(client, sid, {"attributes": {"a": 1}}).json()["session"]
    assert (kept["coupon"], kept["referral"], kept["total"]) == ("SUMMER20", "REF-ADA-0001", 80)
    cleared = v1(client, sid, {"coupon": "", "referral": ""}).json()["session"]
    assert (cleared["coupon"], cleared["referral"], cleared["attributes"]) == ("", "", {"a": 1})


def test_v1_and_v2_share_one_session(client: httpx.Client, uid: Uid) -> None:
    # Given a session written through v2
    sid = uid("s")
    v2(client, sid, {"couponCodes": ["WELCOME10"], "referralCode": "REF-X", "cartItems": [item(price=30)]})
    # When read and updated through v1
    through_v1 = v1(client, sid, {"attributes": {"via": "v1"}}).json()["session"]
    # Then v1 sees the same coupon, referral and cart
    assert (through_v1["coupon"], through_v1["referral"], through_v1["total"]) == ("WELCOME10", "REF-X", 30)
    # And a v1 coupon replaces the v2 codes
    v1(client, sid, {"coupon": "SUMMER20"})
    session = v2(client, sid, {}, "customerSession").json()["customerSession"]
    assert session["couponCodes"] == ["SUMMER20"]
    assert session["attributes"] == {"via": "v1"}


def test_v2_totals(client: httpx.Client, uid: Uid) -> None:
    # Given items and additional costs
    cart = [item("a", price=19.99, quantity=3), item("b", price=5, quantity=2)]
    costs = {"shipping": {"price": 4.95}, "wrapping": {"price": 2}}
    # When updating
    session = v2(client, uid("s"), {"cartItems": cart, "additionalCosts": costs}, "customerSession")
    # Then cartItemTotal = Σ price * quantity, additionalCostTotal = Σ costs, total = both
    data = session.json()["customerSession"]
    assert data["cartItemTotal"] == 69.97
    assert data["additionalCostTotal"] == 6.95
    assert data["total"] == 76.92
    assert [i["position"] for i in data["cartItems"]] == [0, 1]


def test_every_update_records_an_event(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    # Given a session update, a profile update and a custom event
    sid, pid = uid("s"), uid("p")
    v2(client, sid, {"profileId": pid})
    client.put(f"/v1/customer_profiles/{pid}", json={"attributes": {"x": 1}})
    client.post(
        "/v1/events", json={"profileId": pid, "type": "clicked", "attributes": {"k": "v"}, "sessionId": sid}
    )
    # Then three events with increasing ids, their types and RFC 3339 UTC timestamps
    events = sandbox.state.events
    assert [e["type"] for e in events] == ["talon_session_updated", "talon_profile_updated", "clicked"]
    assert [e["id"] for e in events] == [1, 2, 3]
    assert all(e["created"].endswith("Z") and datetime.fromisoformat(e["created"]) for e in events)
    assert events[2]["attributes"] == {"k": "v"}


def test_profile_update_merges_attributes(client: httpx.Client, uid: Uid) -> None:
    pid = uid("p")
    client.put(f"/v1/customer_profiles/{pid}", json={"attributes": {"name": "A", "tier": "silver"}})
    response = client.put(f"/v1/customer_profiles/{pid}", json={"attributes": {"tier": "gold"}})
    data = response.json()
    assert data["profile"]["attributes"] == {"name": "A", "tier": "gold"}
    assert data["event"]["type"] == "talon_profile_updated"
    # A profile update has no session: the required `session` holds zero values
    assert data["session"]["integrationId"] == ""
    assert data["session"]["created"] == "0001-01-01T00:00:00Z"


def test_track_event_creates_session_and_profile(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    sid, pid = uid("s"), uid("p")
    response = client.post(
        "/v1/events", json={"profileId": pid, "type": "clicked", "attributes": {}, "sessionId": sid}
    )
    assert response.json()["session"]["integrationId"] == sid
    assert response.json()["profile"]["integrationId"] == pid
    assert sandbox.state.sessions[sid]["state"] == "open"


def test_reserved_event_type_is_refused(client: httpx.Client) -> None:
    body = {"type": "talon_session_updated", "attributes": {}, "sessionId": "s"}
    response = client.post("/v1/events", json=body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == "/type"


def test_event_campaign_shows_notification(client: httpx.Client, uid: Uid) -> None:
    # Given the seeded campaign triggered by `viewed_promo`
    body = {"type": "viewed_promo", "attributes": {}, "sessionId": uid("s")}
    # When tracking that event
    response = client.post("/v1/events", json=body)
    # Then its showNotification effect is in the event
    [effect] = response.json()["event"]["effects"]
    assert effect["effectType"] == "showNotification"
    assert effect["campaignId"] == 6
    assert effect["props"]["title"] == "Summer sale"
