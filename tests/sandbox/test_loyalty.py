"""Loyalty: points from the seeded campaigns on close, rolled back by cancel, reopen and returns,
and the balances, points and transactions endpoints that follow them (profile and card ledgers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sandbox import Sandbox

from .conftest import effects_of, item, v2

Uid = Callable[[str], str]
LP = "/v1/loyalty_programs"
CART = [item("a", price=30, quantity=2), item("b", price=20, quantity=1)]  # cart item total 80
# Seeded: loyal-1 has 100 active, 20 pending, 30 expired points in program 1, 15 in its "beauty"
# subledger, and card CARD-0001 (program 2) with 50 points.
SEEDED_ACTIVE, SEEDED_PENDING = 100, 20


def balances(client: httpx.Client, profile: str = "loyal-1", **query: str) -> dict[str, Any]:
    response = client.get(f"{LP}/1/profile/{profile}/balances", params=query)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def card_balance(client: httpx.Client, card: str = "CARD-0001") -> float:
    active: float = client.get(f"{LP}/2/cards/{card}/balances").json()["balance"]["activePoints"]
    return active


def close(client: httpx.Client, sid: str, profile: str = "loyal-1", **session: Any) -> httpx.Response:
    return v2(client, sid, {"profileId": profile, "cartItems": CART, "state": "closed", **session}, "loyalty")


def test_seeded_balances(client: httpx.Client) -> None:
    data = balances(client, includeTiers="true", includeProjectedTier="true")
    assert data["balance"] == {
        "activePoints": 100.0,
        "pendingPoints": 20.0,
        "spentPoints": 0.0,
        "expiredPoints": 30.0,
        "negativePoints": 0.0,
        "currentTier": {"id": 1, "name": "Bronze"},
        "pointsToNextTier": 100.0,
        "nextTierName": "Silver",
        "projectedTier": {"projectedActivePoints": 100.0, "projectedTierName": "Bronze"},
    }
    assert data["subledgerBalances"]["beauty"]["activePoints"] == 15
    assert balances(client, subledgerId="beauty")["subledgerBalances"].keys() == {"beauty"}
    assert card_balance(client) == 50


def test_points_are_shown_while_open_and_added_on_close(client: httpx.Client, uid: Uid) -> None:
    # Given a member's open session
    sid = uid("s")
    opened = v2(client, sid, {"profileId": "loyal-1", "cartItems": CART}, "loyalty")
    # Then the effects promise the points and the balances show them as tentative only
    points = [(p["programId"], p["value"]) for k, p in effects_of(opened) if k == "addLoyaltyPoints"]
    assert points == [(1, 80.0), (2, 160.0), (1, 10.0)]
    ledger = opened.json()["loyalty"]["programs"]["1"]["ledger"]
    assert (ledger["currentBalance"], ledger["tentativeCurrentBalance"]) == (100, 180)
    assert (ledger["pendingBalance"], ledger["tentativePendingBalance"]) == (20, 30)
    assert balances(client)["balance"]["activePoints"] == SEEDED_ACTIVE
    # When it is closed
    closed = v2(client, sid, {"state": "closed"}, "loyalty")
    # Then the points are in the ledgers: 80 active and 10 pending for the profile, 160 on the card
    added = [p for k, p in effects_of(closed) if k == "addLoyaltyPoints"]
    assert all(p["transactionUUID"] for p in added)
    assert added[1]["cardIdentifier"] == "CARD-0001"
    balance = balances(client)["balance"]
    assert (balance["activePoints"], balance["pendingPoints"]) == (180, 30)
    assert card_balance(client) == 210
    ledger = closed.json()["loyalty"]["programs"]["1"]["ledger"]
    assert ledger["currentBalance"] == ledger["tentativeCurrentBalance"] == 180


def test_non_members_and_anonymous_sessions_earn_nothing(client: httpx.Client, uid: Uid) -> None:
    for profile in (uid("p"), ""):
        response = close(client, uid("s"), profile)
        assert [k for k, _ in effects_of(response)] == []


def test_cancel_rolls_the_points_back(client: httpx.Client, uid: Uid) -> None:
    sid = uid("s")
    close(client, sid)
    cancelled = v2(client, sid, {"state": "cancelled"})
    rollbacks = [
        (p["programId"], p["value"]) for k, p in effects_of(cancelled) if k == "rollbackAddedLoyaltyPoints"
    ]
    assert rollbacks == [(1, 80.0), (2, 160.0), (1, 10.0)]
    balance = balances(client)["balance"]
    assert (balance["activePoints"], balance["pendingPoints"]) == (SEEDED_ACTIVE, SEEDED_PENDING)
    assert card_balance(client) == 50


def test_a_return_rolls_back_the_returned_share(client: httpx.Client, uid: Uid) -> None:
    # Given a closed session of 80, then 1 x a (30) returned
    sid = uid("s")
    close(client, sid)
    body = {"return": {"returnedCartItems": [{"position": 0, "quantity": 1}]}}
    returned = client.post(f"/v2/customer_sessions/{sid}/returns", json=body)
    # Then 30/80 of each award goes back
    rollbacks = [
        (p["programId"], p["value"]) for k, p in effects_of(returned) if k == "rollbackAddedLoyaltyPoints"
    ]
    assert rollbacks == [(1, 30.0), (2, 60.0), (1, 3.75)]
    balance = balances(client)["balance"]
    assert (balance["activePoints"], balance["pendingPoints"]) == (150, 26.25)
    assert card_balance(client) == 150
    # And cancelling afterwards takes back only what is left
    cancelled = v2(client, sid, {"state": "cancelled"})
    rest = [
        (p["programId"], p["value"]) for k, p in effects_of(cancelled) if k == "rollbackAddedLoyaltyPoints"
    ]
    assert rest == [(1, 50.0), (2, 100.0), (1, 6.25)]
    assert balances(client)["balance"]["activePoints"] == SEEDED_ACTIVE


def test_reopen_rolls_the_points_back_and_a_new_close_adds_them(client: httpx.Client, uid: Uid) -> None:
    sid = uid("s")
    close(client, sid)
    reopened = client.put(f"/v2/customer_sessions/{sid}/reopen")
    assert [k for k, _ in effects_of(reopened)] == ["rollbackAddedLoyaltyPoints"] * 3
    assert balances(client)["balance"]["activePoints"] == SEEDED_ACTIVE
    v2(client, sid, {"state": "closed"})
    assert balances(client)["balance"]["activePoints"] == SEEDED_ACTIVE + 80


def test_transactions_and_points_follow_the_effects(client: httpx.Client, uid: Uid) -> None:
    # Given a closed session, then a return
    sid = uid("s")
    close(client, sid)
    client.post(
        f"/v2/customer_sessions/{sid}/returns", json={"return": {"returnedCartItems": [{"position": 1}]}}
    )
    # Then the session's transactions are its additions and the rollbacks, newest first
    transactions = client.get(
        f"{LP}/1/profile/loyal-1/transactions", params={"customerSessionIDs": sid}
    ).json()
    assert [(t["type"], t["amount"]) for t in transactions["data"]] == [
        ("subtraction", 2.5),
        ("subtraction", 20.0),
        ("addition", 10.0),
        ("addition", 80.0),
    ]
    assert transactions["hasMore"] is False
    assert {t["customerSessionId"] for t in transactions["data"]} == {sid}
    # Only the seeded ones are "manual", and one of them awaits activation
    manual = client.get(
        f"{LP}/1/profile/loyal-1/transactions", params={"loyaltyTransactionType": "manual"}
    ).json()
    assert len(manual["data"]) == 4
    waiting = client.get(f"{LP}/1/profile/loyal-1/transactions", params={"awaitsActivation": "true"}).json()
    assert sorted(t["amount"] for t in waiting["data"]) == [10.0, 20.0]
    # The points endpoint lists what is left of each addition, by status
    active = client.get(f"{LP}/1/profile/loyal-1/points").json()["data"]
    assert sorted(p["amount"] for p in active) == [15.0, 60.0, 100.0]  # every subledger
    main = client.get(f"{LP}/1/profile/loyal-1/points", params={"subledgerId": ""}).json()["data"]
    assert sorted(p["amount"] for p in main) == [60.0, 100.0]
    pending = client.get(f"{LP}/1/profile/loyal-1/points", params={"status": "pending"}).json()["data"]
    assert sorted((p["amount"], p["startDate"]) for p in pending) == [(7.5, "on_action"), (20.0, "on_action")]
    expired = client.get(f"{LP}/1/profile/loyal-1/points", params={"status": "expired"}).json()["data"]
    assert [p["name"] for p in expired] == ["Expired promo"]
    # The card's ledger too
    card = client.get(f"{LP}/2/cards/CARD-0001/transactions").json()["data"]
    assert [(t["type"], t["amount"], t["cardIdentifier"]) for t in card[:2]] == [
        ("subtraction", 40.0, "CARD-0001"),
        ("addition", 160.0, "CARD-0001"),
    ]
    card_points = client.get(f"{LP}/2/cards/CARD-0001/points", params={"sort": "expiryDate"}).json()["data"]
    assert sorted(p["amount"] for p in card_points) == [50.0, 120.0]


def test_pagination_of_transactions(client: httpx.Client, uid: Uid) -> None:
    for _ in range(3):
        close(client, uid("s"))
    first = client.get(f"{LP}/1/profile/loyal-1/transactions", params={"pageSize": 4}).json()
    rest = client.get(f"{LP}/1/profile/loyal-1/transactions", params={"pageSize": 4, "skip": 8}).json()
    assert (len(first["data"]), first["hasMore"]) == (4, True)
    assert (len(rest["data"]), rest["hasMore"]) == (2, False)


def test_activation_of_pending_points(client: httpx.Client, uid: Uid) -> None:
    # Given a closed session whose 10 points await activation
    sid = uid("s")
    close(client, sid)
    # When activating the session's points
    response = client.post(f"{LP}/1/activate_points", json={"sessionId": sid})
    # Then they are active: the ledger entries say so and the balance follows
    assert response.status_code == 200
    [entry] = response.json()["ledgerEntries"]
    assert (entry["amount"], entry["customerSessionID"], entry["programID"]) == (10.0, sid, 1)
    balance = balances(client)["balance"]
    assert (balance["activePoints"], balance["pendingPoints"]) == (190, SEEDED_PENDING)
    # Activating again finds nothing left to activate
    assert client.post(f"{LP}/1/activate_points", json={"sessionId": sid}).status_code == 404


@pytest.mark.parametrize(
    "body",
    [{}, {"sessionId": "s", "transactionUUIDs": ["00000000-0000-4000-8000-000000000002"]}],
)
def test_activation_needs_one_selector(client: httpx.Client, body: dict[str, Any]) -> None:
    assert client.post(f"{LP}/1/activate_points", json=body).status_code == 400


def test_deleting_ledger_transactions(client: httpx.Client, sandbox: Sandbox) -> None:
    # Selected subledgers first: only "beauty" goes
    selected = {"scope": "SelectedSubledgers", "subledgerIds": ["beauty"]}
    assert client.post(f"{LP}/1/profile/loyal-1/delete_transactions", json=selected).status_code == 204
    data = balances(client)
    assert data["balance"]["activePoints"] == SEEDED_ACTIVE
    assert data["subledgerBalances"]["beauty"]["activePoints"] == 0
    # Then every ledger
    everything = {"scope": "AllSubledgers"}
    assert client.post(f"{LP}/1/profile/loyal-1/delete_transactions", json=everything).status_code == 204
    assert balances(client)["balance"]["activePoints"] == 0
    assert client.get(f"{LP}/1/profile/loyal-1/transactions").json()["data"] == []
    assert all(t["profileId"] != "loyal-1" for t in sandbox.state.loyalty["transactions"])


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        (f"{LP}/1/profile/loyal-1/delete_transactions", {"scope": "SelectedSubledgers"}, 400),
        (
            f"{LP}/1/profile/loyal-1/delete_transactions",
            {"scope": "SelectedSubledgers", "subledgerIds": ["x"]},
            400,
        ),
        (f"{LP}/1/profile/nobody/delete_transactions", {"scope": "AllSubledgers"}, 404),
        (f"{LP}/9/profile/loyal-1/delete_transactions", {"scope": "AllSubledgers"}, 404),
        (f"{LP}/2/profile/loyal-1/delete_transactions", {"scope": "AllSubledgers"}, 400),  # card-based
    ],
)
def test_deleting_ledger_transactions_errors(
    client: httpx.Client, path: str, body: dict[str, Any], status: int
) -> None:
    assert client.post(path, json=body).status_code == status


def test_joining_a_program_makes_a_profile_earn(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    # Given a new customer who joins the profile-based program (the profile is created)
    pid = uid("p")
    joined = client.post(f"{LP}/1/profile/{pid}/join")
    assert (joined.status_code, joined.content) == (200, b"")
    assert pid in sandbox.state.loyalty["programs"]["1"]["members"]
    # When they close a session
    close(client, uid("s"), pid)
    # Then they earned points
    assert balances(client, pid)["balance"]["activePoints"] == 80
    # And joining again, or joining a card-based or unknown program, is refused
    assert client.post(f"{LP}/1/profile/{pid}/join").status_code == 400
    assert client.post(f"{LP}/2/profile/{pid}/join").status_code == 400
    assert client.post(f"{LP}/9/profile/{pid}/join").status_code == 404


def test_card_generation_link_and_unlink(client: httpx.Client, uid: Uid) -> None:
    # Given a card generated in the card-based program for loyal-2
    generated = client.post(f"{LP}/2/cards", json={"customerProfileIds": ["loyal-2"]})
    assert generated.status_code == 200
    card = generated.json()
    assert card["identifier"].startswith("CARD-")
    assert [p["integrationId"] for p in card["profiles"]] == ["loyal-2"]
    assert (card["programID"], card["status"], card["usersPerCardLimit"]) == (2, "active", 2)
    # When loyal-2's session closes, the card earns
    close(client, uid("s"), "loyal-2")
    assert card_balance(client, card["identifier"]) == 160
    # Linking a second profile works, a third exceeds usersPerCardLimit
    client.put("/v2/customer_profiles/third", json={})
    link = f"/v2/loyalty_programs/2/cards/{card['identifier']}/link_profile"
    assert client.post(link, json={"integrationId": "loyal-1"}).status_code == 200
    assert client.post(link, json={"integrationId": "third"}).status_code == 400
    # Unlinking removes the profile from the card
    unlinked = client.post(
        f"/v2/loyalty_programs/2/cards/{card['identifier']}/unlink_profile", json={"integrationId": "loyal-2"}
    )
    assert [p["integrationId"] for p in unlinked.json()["profiles"]] == ["loyal-1"]


def test_card_generation_with_an_identifier(client: httpx.Client) -> None:
    created = client.post(f"{LP}/2/cards", json={"cardIdentifier": "MY-CARD-1", "status": "inactive"})
    duplicate = client.post(f"{LP}/2/cards", json={"cardIdentifier": "MY-CARD-1"})
    too_many = client.post(
        f"{LP}/2/cards", json={"customerProfileIds": ["loyal-1", "loyal-2", "vip-customer"]}
    )
    unknown = client.post(f"{LP}/2/cards", json={"customerProfileIds": ["nobody"]})
    assert created.json()["status"] == "inactive"
    assert [duplicate.status_code, too_many.status_code, unknown.status_code] == [400, 400, 400]


def test_a_session_card_earns_for_an_anonymous_session(client: httpx.Client, uid: Uid) -> None:
    # Given an unregistered card named in an anonymous session
    close(client, uid("s"), "", loyaltyCards=["CARD-0002"])
    # Then the card earned; an inactive card earns nothing
    assert card_balance(client, "CARD-0002") == 160
    response = close(client, uid("s"), "", loyaltyCards=["CARD-BLOCKED"])
    assert effects_of(response) == []


def test_loyalty_inventory(client: httpx.Client) -> None:
    data = client.get("/v1/customer_profiles/loyal-1/inventory", params={"loyalty": "true"}).json()
    program = data["loyalty"]["programs"]["1"]
    assert (program["name"], program["ledger"]["currentBalance"]) == ("sandbox_points", 100)
    assert program["subLedgers"]["beauty"]["currentBalance"] == 15
    assert [c["identifier"] for c in data["loyalty"]["cards"]] == ["CARD-0001"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"{LP}/1/cards/CARD-0001/balances", 400),  # a profile-based program has no cards
        (f"{LP}/2/profile/loyal-1/balances", 400),  # a card-based program has no profile ledgers
        (f"{LP}/2/cards/CARD-9999/points", 404),
        (f"{LP}/2/cards/{'C' * 109}/points", 400),  # loyaltyCardId is 4 to 108 characters
        (f"{LP}/99999999999999999999/cards/CARD-0001/points", 400),  # beyond int64
        (f"{LP}/1/profile/nobody/points", 404),
        (f"{LP}/1/profile/loyal-1/points?pageSize=1001", 400),
        (f"{LP}/1/profile/loyal-1/points?sort=-startDate", 400),
        (f"{LP}/1/profile/loyal-1/transactions?startDate=yesterday", 400),
    ],
)
def test_loyalty_lookup_errors(client: httpx.Client, path: str, status: int) -> None:
    assert client.get(path).status_code == status


def test_balances_at_a_date(client: httpx.Client) -> None:
    # endDate accepts a plain date ("T00:00:00 in UTC is considered"): in mid-2020 only the
    # promo points existed, and they had not expired yet
    data = balances(client, endDate="2020-06-01")
    assert (data["balance"]["activePoints"], data["balance"]["expiredPoints"]) == (30, 0)
    assert balances(client, endDate="2021-06-01T00:00:00Z")["balance"]["expiredPoints"] == 30
