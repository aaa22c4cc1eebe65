"""Today's events: v2 (silent by default) and v3 advanced events (an integrationId once, readable)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from sandbox import Sandbox

from .conftest import effects_of, item, v2

Uid = Callable[[str], str]


def test_v3_event_is_accepted_once_and_readable(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    # Given an advanced event
    event_id, pid = uid("e"), uid("p")
    body = {
        "profileId": pid,
        "type": "viewed_promo",
        "integrationId": event_id,
        "attributes": {"page": "/promo"},
    }
    first = client.post("/v3/events", json={**body, "responseContent": ["advancedEvent", "customerProfile"]})
    # When the same integrationId comes again, even with other content
    again = client.post("/v3/events", json={**body, "type": "clicked"})
    # Then the first is processed with its effects, the repeat refused with 409 and nothing recorded
    assert first.status_code == 200
    assert effects_of(first)[0][0] == "showNotification"
    advanced = first.json()["advancedEvent"]
    assert (advanced["integrationId"], advanced["type"], advanced["profileId"]) == (
        event_id,
        "viewed_promo",
        pid,
    )
    assert first.json()["customerProfile"]["integrationId"] == pid
    assert again.status_code == 409
    assert again.json()["errors"][0]["source"]["pointer"] == "/integrationId"
    assert [e["type"] for e in sandbox.state.events] == ["viewed_promo"]
    assert sandbox.counts("trackEventV3") == {"received": 2, "processed": 1}
    # And the event reads back as it was stored
    read = client.get(f"/v3/events/{event_id}")
    assert read.status_code == 200
    assert read.json() == advanced
    assert read.json()["attributes"] == {"page": "/promo"}


def test_v3_event_connected_to_a_closed_session(client: httpx.Client, uid: Uid) -> None:
    sid, open_sid = uid("s"), uid("s")
    v2(client, sid, {"cartItems": [item()], "state": "closed"})
    v2(client, open_sid, {})
    body = {"profileId": "p", "type": "review_written", "connectedSessionId": sid}
    connected = client.post(
        "/v3/events", json={**body, "integrationId": uid("e"), "responseContent": ["advancedEvent"]}
    )
    not_closed = client.post(
        "/v3/events", json={**body, "connectedSessionId": open_sid, "integrationId": uid("e")}
    )
    unknown = client.post(
        "/v3/events", json={**body, "connectedSessionId": "nope", "integrationId": uid("e")}
    )
    assert connected.status_code == 200
    assert connected.json()["advancedEvent"]["connectedSessionId"] == sid
    assert (not_closed.status_code, unknown.status_code) == (400, 400)
    assert not_closed.json()["errors"][0]["source"]["pointer"] == "/connectedSessionId"


def test_v3_event_needs_a_profile_and_an_integration_id(client: httpx.Client) -> None:
    missing = client.post("/v3/events", json={"type": "t"})
    pointers = sorted(e["source"]["pointer"] for e in missing.json()["errors"])
    assert pointers == ["/integrationId", "/profileId"]
    assert (
        client.post("/v3/events", json={"profileId": "", "type": "t", "integrationId": "x"}).status_code
        == 400
    )
    assert client.get("/v3/events/never-sent").status_code == 404


def test_v2_event_is_silent_by_default(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    # The spec: silent=yes (the default) answers 204, silent=no answers 200 with the state
    pid = uid("p")
    body = {"profileId": pid, "type": "viewed_promo", "attributes": {"k": "v"}}
    silent = client.post("/v2/events", json=body)
    loud = client.post(
        "/v2/events?silent=no", json={**body, "responseContent": ["event", "triggeredCampaigns"]}
    )
    assert (silent.status_code, silent.content) == (204, b"")
    assert loud.status_code == 200
    assert loud.json()["event"]["type"] == "viewed_promo"
    assert loud.json()["event"]["attributes"] == {"k": "v"}
    assert [c["id"] for c in loud.json()["triggeredCampaigns"]] == [6]
    # Both were recorded, and the profile was created
    assert [e["type"] for e in sandbox.state.events] == ["viewed_promo", "viewed_promo"]
    assert pid in sandbox.state.profiles


def test_v2_event_needs_a_profile_id(client: httpx.Client) -> None:
    # "profileId is required even though the schema does not specify it"
    response = client.post("/v2/events?silent=no", json={"type": "viewed_promo"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == "/profileId"


def test_reserved_event_types_are_refused_everywhere(client: httpx.Client) -> None:
    body = {"profileId": "p", "type": "talon_session_updated"}
    assert client.post("/v2/events", json=body).status_code == 400
    assert client.post("/v3/events", json={**body, "integrationId": "reserved"}).status_code == 400
