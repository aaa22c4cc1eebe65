"""Profiles v2 (single with runRuleEngine, batch), audiences and their members, customer data erasure."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from sandbox import Sandbox

from .conftest import item, v2

Uid = Callable[[str], str]


def test_profile_v2_without_the_rule_engine(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    # Given a new profile written twice without runRuleEngine
    pid = uid("p")
    first = client.put(f"/v2/customer_profiles/{pid}", json={"attributes": {"name": "A", "tier": "silver"}})
    second = client.put(f"/v2/customer_profiles/{pid}", json={"attributes": {"tier": "gold"}})
    # Then effects are always empty and the attributes merge key by key
    assert first.json() == second.json() == {"effects": [], "createdCoupons": [], "createdReferrals": []}
    profile = sandbox.state.profiles[pid]
    assert profile["attributes"] == {"name": "A", "tier": "gold"}
    assert profile["id"] > 0
    # And responseContent needs the rule engine
    refused = client.put(f"/v2/customer_profiles/{pid}", json={"responseContent": ["customerProfile"]})
    assert refused.status_code == 400


def test_profile_v2_with_the_rule_engine(client: httpx.Client, uid: Uid) -> None:
    pid = uid("p")
    response = client.put(
        f"/v2/customer_profiles/{pid}?runRuleEngine=true",
        json={
            "attributes": {"a": 1},
            "responseContent": ["customerProfile", "event", "triggeredCampaigns", "ruleFailureReasons"],
        },
    )
    data = response.json()
    assert data["customerProfile"]["attributes"] == {"a": 1}
    assert data["event"]["type"] == "talon_profile_updated"
    assert (data["triggeredCampaigns"], data["ruleFailureReasons"]) == ([], [])


def test_profile_v2_audience_changes(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    pid = uid("p")
    joined = client.put(
        f"/v2/customer_profiles/{pid}?runRuleEngine=true",
        json={"audiencesChanges": {"adds": [1, 2], "deletes": []}, "responseContent": ["customerProfile"]},
    )
    left = client.put(
        f"/v2/customer_profiles/{pid}?runRuleEngine=true",
        json={"audiencesChanges": {"adds": [], "deletes": [1]}, "responseContent": ["customerProfile"]},
    )
    unknown = client.put(
        f"/v2/customer_profiles/{pid}", json={"audiencesChanges": {"adds": [99], "deletes": []}}
    )
    assert [a["id"] for a in joined.json()["customerProfile"]["audienceMemberships"]] == [1, 2]
    assert left.json()["customerProfile"]["audienceMemberships"] == [
        {"id": 2, "name": "Newsletter subscribers"}
    ]
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["source"]["pointer"] == "/audiencesChanges/adds/0"
    assert pid not in sandbox.state.audiences["1"]["members"]


def test_batch_profiles(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    # Given a batch of two profiles, silent by default
    a, b = uid("a"), uid("b")
    batch = {"customerProfiles": [{"integrationId": a, "attributes": {"n": 1}}, {"integrationId": b}]}
    silent = client.put("/v2/customer_profiles", json=batch)
    loud = client.put(
        "/v2/customer_profiles?silent=no",
        json={"customerProfiles": [{"integrationId": a, "attributes": {"m": 2}}]},
    )
    # Then both exist, the default answer is 204 and silent=no answers the updated profiles
    assert (silent.status_code, silent.content) == (204, b"")
    assert {a, b} <= set(sandbox.state.profiles)
    assert loud.json()["integrationStates"][0]["customerProfile"]["attributes"] == {"n": 1, "m": 2}
    # The batch runs no rule engine: no events
    assert sandbox.state.events == []


def test_batch_of_more_than_1000_profiles_is_refused(client: httpx.Client, sandbox: Sandbox) -> None:
    batch = {"customerProfiles": [{"integrationId": f"bulk-{n}"} for n in range(1001)]}
    response = client.put("/v2/customer_profiles", json=batch)
    assert response.status_code == 400
    assert "bulk-0" not in sandbox.state.profiles
    assert (
        client.put(
            "/v2/customer_profiles", json={"customerProfiles": batch["customerProfiles"][:1000]}
        ).status_code
        == 204
    )


def test_audience_lifecycle(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    # Given a new audience
    created = client.post(
        "/v2/audiences",
        json={"name": "Fans", "description": "d", "integration": "segment", "integrationId": uid("seg")},
    )
    assert created.status_code == 201
    audience = created.json()
    aid = audience["id"]
    assert (audience["name"], audience["accountId"], audience["integration"]) == ("Fans", 1, "segment")
    # When members are added (a new profile included) and removed
    members = {
        "data": [
            {"action": "add", "profileIntegrationId": "loyal-2", "audienceId": aid},
            {"action": "add", "profileIntegrationId": "fan-new", "audienceId": aid},
            {"action": "add", "profileIntegrationId": "vip-customer", "audienceId": aid},
            {"action": "delete", "profileIntegrationId": "vip-customer", "audienceId": aid},
        ]
    }
    assert client.post("/v2/customer_audiences", json=members).status_code == 204
    # Then they read back as memberships of the profiles, and in the state
    assert sandbox.state.audiences[str(aid)]["members"] == ["loyal-2", "fan-new"]
    profile = client.get("/v1/customer_profiles/fan-new/inventory", params={"profile": "true"}).json()[
        "profile"
    ]
    assert profile["audienceMemberships"] == [{"id": aid, "name": "Fans"}]
    # And the audience's customers' attributes can be set at once
    assert client.put(f"/v2/audience_customers/{aid}/attributes", json={"segment": "fans"}).status_code == 204
    assert sandbox.state.profiles["loyal-2"]["attributes"] == {"name": "Liam Loyal", "segment": "fans"}
    assert "segment" not in sandbox.state.profiles["vip-customer"]["attributes"]
    # Renaming shows in the memberships too
    assert client.put(f"/v2/audiences/{aid}", json={"name": "Super fans"}).json()["name"] == "Super fans"
    assert sandbox.state.profiles["fan-new"]["audienceMemberships"] == [{"id": aid, "name": "Super fans"}]
    # Removing every member, then the audience
    assert client.delete(f"/v2/audiences/{aid}/memberships").status_code == 204
    assert sandbox.state.audiences[str(aid)]["members"] == []
    assert client.delete(f"/v2/audiences/{aid}").status_code == 204
    assert str(aid) not in sandbox.state.audiences
    assert client.delete(f"/v2/audiences/{aid}").status_code == 404


def test_audience_errors(client: httpx.Client, sandbox: Sandbox) -> None:
    duplicate = client.post(
        "/v2/audiences", json={"name": "x", "integration": "mparticle", "integrationId": "mp-newsletter"}
    )
    partial = client.post(
        "/v2/customer_audiences",
        json={
            "data": [
                {"action": "add", "profileIntegrationId": "p1", "audienceId": 1},
                {"action": "add", "profileIntegrationId": "p1", "audienceId": 404},
            ]
        },
    )
    bad_action = client.post(
        "/v2/customer_audiences",
        json={"data": [{"action": "remove", "profileIntegrationId": "p1", "audienceId": 1}]},
    )
    assert [duplicate.status_code, partial.status_code, bad_action.status_code] == [409, 404, 400]
    # All or nothing: the valid first action of the refused request was not applied
    assert "p1" not in sandbox.state.audiences["1"]["members"]


def test_customer_data_erasure_reaches_everything_kept(
    client: httpx.Client, sandbox: Sandbox, uid: Uid
) -> None:
    # Given a profile with attributes, sessions (v1 and v2) with attributes and cart item attributes,
    # events (v1, v2, v3) with attributes, and a referral with attributes
    pid, sid, other = uid("p"), uid("s"), uid("other")
    client.put(f"/v2/customer_profiles/{pid}", json={"attributes": {"email": "x@example.com"}})
    v2(
        client,
        sid,
        {
            "profileId": pid,
            "attributes": {"address": "1 Main St"},
            "cartItems": [item(attributes={"engraving": "X"})],
        },
    )
    client.put(f"/v1/customer_sessions/{uid('s')}", json={"profileId": pid, "attributes": {"phone": "1"}})
    client.post(
        "/v1/events",
        json={"profileId": pid, "type": "clicked", "attributes": {"ip": "1.2.3.4"}, "sessionId": sid},
    )
    client.post("/v2/events", json={"profileId": pid, "type": "clicked", "attributes": {"ip": "1.2.3.4"}})
    client.post(
        "/v3/events",
        json={"profileId": pid, "type": "clicked", "attributes": {"ip": "1"}, "integrationId": uid("e")},
    )
    client.post(
        "/v1/referrals", json={"campaignId": 5, "advocateProfileIntegrationId": pid, "attributes": {"n": "A"}}
    )
    client.put(f"/v2/customer_profiles/{other}", json={"attributes": {"keep": True}})
    # When deleting the customer's data
    response = client.delete(f"/v1/customer_data/{pid}")
    # Then 204 and nothing of theirs keeps an attribute; others are untouched
    assert (response.status_code, response.content) == (204, b"")
    state = sandbox.state
    assert state.profiles[pid]["attributes"] == {}
    owned = [s for s in state.sessions.values() if s["profileId"] == pid]
    assert len(owned) == 2
    assert all(s["attributes"] == {} for s in owned)
    assert all("attributes" not in i for s in owned for i in s["cartItems"])
    assert [e["attributes"] for e in state.events if e["profileId"] == pid] == [{}] * 6
    assert all(e["attributes"] == {} for e in state.v3_events.values())
    assert all(
        r["attributes"] == {} for r in state.referrals.values() if r["advocateProfileIntegrationId"] == pid
    )
    assert state.profiles[other]["attributes"] == {"keep": True}


@pytest.mark.parametrize("path", ["/v1/customer_data/nobody-here"])
def test_customer_data_deletion_of_unknown_profile_is_404(
    client: httpx.Client, sandbox: Sandbox, path: str
) -> None:
    assert client.delete(path).status_code == 404
    assert sandbox.counts("deleteCustomerData") == {"received": 1, "processed": 0}
