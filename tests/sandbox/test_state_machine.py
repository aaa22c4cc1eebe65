"""Today's session state machine: open → closed | cancelled, closed → cancelled | partially_returned
(returns) | open (reopen), partially_returned → cancelled; and what each transition answers."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from sandbox import Sandbox

from .conftest import effects_of, item, v2

Uid = Callable[[str], str]
CART = [item("a", price=10, quantity=3), item("b", price=5, quantity=2)]  # cart item total 40


def returns(client: httpx.Client, sid: str, *items: dict[str, object], **extra: object) -> httpx.Response:
    body: dict[str, object] = {"return": {"returnedCartItems": list(items)}, **extra}
    return client.post(f"/v2/customer_sessions/{sid}/returns", json=body)


def closed_session(client: httpx.Client, uid: Uid, profile: str | None = None) -> str:
    sid = uid("s")
    response = v2(client, sid, {"profileId": profile or uid("p"), "cartItems": CART, "state": "closed"})
    assert response.status_code == 200, response.text
    return sid


def test_session_is_answered_with_todays_fields(client: httpx.Client, uid: Uid) -> None:
    # Given a new session, then an update of it
    sid = uid("s")
    first = v2(client, sid, {"profileId": uid("p"), "cartItems": CART}, "customerSession").json()
    second = v2(client, sid, {"attributes": {"a": 1}}, "customerSession").json()
    # Then it has an id, counts its updates and says when it was last updated
    one, two = first["customerSession"], second["customerSession"]
    assert one["id"] == two["id"] > 0
    assert (one["updateCount"], two["updateCount"]) == (1, 2)
    assert two["updated"] >= one["updated"] >= one["created"]
    assert [(i["position"], i["returnedQuantity"], i["remainingQuantity"]) for i in two["cartItems"]] == [
        (0, 0, 3),
        (1, 0, 2),
    ]
    assert (two["cartItemTotal"], two["additionalCostTotal"], two["total"]) == (40, 0, 40)


def test_get_customer_session_reads_back_the_last_update(client: httpx.Client, uid: Uid) -> None:
    sid = uid("s")
    written = v2(client, sid, {"couponCodes": ["SUMMER20"], "cartItems": CART}, "customerSession").json()
    read = client.get(f"/v2/customer_sessions/{sid}").json()
    assert read["customerSession"] == written["customerSession"]
    assert read["effects"] == written["effects"]


def test_returns_make_a_closed_session_partially_returned(
    client: httpx.Client, sandbox: Sandbox, uid: Uid
) -> None:
    # Given a closed session with 3 x a and 2 x b
    pid = uid("p")
    sid = closed_session(client, uid, pid)
    # When returning one a, then one a and one b (by sku)
    first = returns(client, sid, {"position": 0, "quantity": 1}, responseContent=["customerSession"])
    second = returns(
        client,
        sid,
        {"position": 0, "quantity": 1},
        {"sku": "b", "quantity": 1},
        responseContent=["previousReturns"],
    )
    # Then the session is partially_returned and its items follow the returns
    assert first.status_code == second.status_code == 200
    session = first.json()["customerSession"]
    assert session["state"] == "partially_returned"
    assert [(i["returnedQuantity"], i["remainingQuantity"]) for i in session["cartItems"]] == [(1, 2), (0, 2)]
    stored = sandbox.state.sessions[sid]
    assert [(i["returnedQuantity"], i["remainingQuantity"]) for i in stored["cartItems"]] == [(2, 1), (1, 1)]
    # And each return is answered, and listed in previousReturns
    returned = second.json()["return"]
    assert returned["sessionIntegrationId"] == sid
    assert returned["profileIntegrationId"] == pid
    assert returned["returnedCartItems"] == [
        {"position": 0, "quantity": 1, "sku": "a"},
        {"position": 1, "quantity": 1, "sku": "b"},
    ]
    assert len(second.json()["previousReturns"]) == 2
    # And the profile's sales went down by what came back (40 - 10 - 15)
    assert sandbox.state.profiles[pid]["totalSales"] == 15
    assert sandbox.state.events[-1]["type"] == "talon_session_returned"


@pytest.mark.parametrize(
    ("returned", "pointer"),
    [
        ({"position": 5, "quantity": 1}, "/return/returnedCartItems/0/position"),
        ({"position": 0, "quantity": 4}, "/return/returnedCartItems/0/quantity"),
        ({"position": 0, "sku": "b"}, "/return/returnedCartItems/0/sku"),
        ({"sku": "zzz"}, "/return/returnedCartItems/0/sku"),
        ({"quantity": 1}, "/return/returnedCartItems/0"),
    ],
)
def test_invalid_returns_are_refused(
    client: httpx.Client, sandbox: Sandbox, uid: Uid, returned: dict[str, object], pointer: str
) -> None:
    sid = closed_session(client, uid)
    before = sandbox.state.sessions[sid]
    response = returns(client, sid, returned)
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == pointer
    assert sandbox.state.sessions[sid] == before


def test_a_whole_return_without_quantity_takes_what_is_left(client: httpx.Client, uid: Uid) -> None:
    sid = closed_session(client, uid)
    returns(client, sid, {"position": 0, "quantity": 1})
    response = returns(client, sid, {"position": 0}, responseContent=["customerSession"])
    assert response.json()["return"]["returnedCartItems"] == [{"position": 0, "quantity": 2, "sku": "a"}]
    assert response.json()["customerSession"]["cartItems"][0]["remainingQuantity"] == 0


@pytest.mark.parametrize("history", [["open"], ["cancelled"], []])
def test_only_closed_sessions_take_returns(client: httpx.Client, uid: Uid, history: list[str]) -> None:
    sid = uid("s")
    for state in history:
        v2(client, sid, {"cartItems": CART, "state": state})
    response = returns(client, sid, {"position": 0, "quantity": 1})
    assert response.status_code == 400  # an unknown session too: returnCartItems documents no 404


def test_reopen_makes_a_closed_session_open_again(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    # Given a closed session that redeemed the single-use ONCE-ONLY
    pid, sid = uid("p"), uid("s")
    v2(client, sid, {"profileId": pid, "couponCodes": ["ONCE-ONLY"], "cartItems": CART, "state": "closed"})
    assert sandbox.state.coupons["ONCE-ONLY"]["usageCounter"] == 1
    # When reopening it
    response = client.put(f"/v2/customer_sessions/{sid}/reopen")
    # Then it is open, the redemption is rolled back, and the reopen event is recorded
    assert response.status_code == 200
    assert effects_of(response) == [
        ("rollbackCoupon", {"value": "ONCE-ONLY"}),
        ("rollbackDiscount", {"name": "Summer 20% off", "value": 8.0}),
    ]
    state = sandbox.state
    assert state.sessions[sid]["state"] == "open"
    assert state.coupons["ONCE-ONLY"]["usageCounter"] == 0
    assert state.profiles[pid]["closedSessions"] == 0
    assert state.events[-1]["type"] == "talon_session_reopened"
    # And the session can change and be closed again, redeeming once more
    again = v2(client, sid, {"cartItems": [item(price=100)], "state": "closed"})
    assert effects_of(again)[0] == ("acceptCoupon", {"value": "ONCE-ONLY"})
    assert sandbox.state.coupons["ONCE-ONLY"]["usageCounter"] == 1


@pytest.mark.parametrize("history", [["open"], ["cancelled"], ["closed", "returned"], []])
def test_only_closed_sessions_can_be_reopened(client: httpx.Client, uid: Uid, history: list[str]) -> None:
    sid = uid("s")
    for state in history:
        if state == "returned":
            returns(client, sid, {"position": 0, "quantity": 1})
        else:
            v2(client, sid, {"cartItems": CART, "state": state})
    assert client.put(f"/v2/customer_sessions/{sid}/reopen").status_code == 400


@pytest.mark.parametrize(
    ("history", "final"),
    [
        (["open", "closed", "cancelled"], "cancelled"),
        (["closed", "returned", "cancelled"], "cancelled"),
        (["closed", "returned", "returned"], "partially_returned"),
        (["closed", "reopen", "closed"], "closed"),
        (["closed", "reopen", "cancelled"], "cancelled"),
    ],
)
def test_allowed_paths(client: httpx.Client, uid: Uid, history: list[str], final: str) -> None:
    sid = uid("s")
    for step in history:
        if step == "returned":
            response = returns(client, sid, {"position": 1, "quantity": 1})
        elif step == "reopen":
            response = client.put(f"/v2/customer_sessions/{sid}/reopen")
        else:
            response = v2(client, sid, {"cartItems": CART, "state": step})
        assert response.status_code == 200, (step, response.text)
    assert client.get(f"/v2/customer_sessions/{sid}").json()["customerSession"]["state"] == final


@pytest.mark.parametrize(
    ("history", "refused"),
    [
        (["closed"], "open"),  # reopening is PUT .../reopen, not an update
        (["closed"], "partially_returned"),  # only returns make it
        (["open"], "partially_returned"),
        ([], "partially_returned"),
        (["closed", "returned"], "closed"),
        (["closed", "returned"], "open"),
        (["closed", "returned", "cancelled"], "cancelled"),
    ],
)
def test_refused_transitions(
    client: httpx.Client, sandbox: Sandbox, uid: Uid, history: list[str], refused: str
) -> None:
    sid = uid("s")
    for step in history:
        if step == "returned":
            returns(client, sid, {"position": 0, "quantity": 1})
        else:
            v2(client, sid, {"cartItems": CART, "state": step})
    before = sandbox.state.sessions.get(sid)
    response = v2(client, sid, {"state": refused})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == "/customerSession/state"
    assert sandbox.state.sessions.get(sid) == before


def test_cancelling_a_partially_returned_session_rolls_back_the_rest(
    client: httpx.Client, sandbox: Sandbox, uid: Uid
) -> None:
    pid = uid("p")
    sid = closed_session(client, uid, pid)
    returns(client, sid, {"position": 0, "quantity": 1})
    assert sandbox.state.profiles[pid]["totalSales"] == 30
    v2(client, sid, {"state": "cancelled"})
    assert sandbox.state.profiles[pid]["totalSales"] == 0
    assert sandbox.state.profiles[pid]["closedSessions"] == 0


def test_legacy_v1_sees_a_partially_returned_session_as_closed(client: httpx.Client, uid: Uid) -> None:
    # The 2020 schema has three states: partially_returned reads as closed there
    sid = closed_session(client, uid)
    returns(client, sid, {"position": 0, "quantity": 1})
    response = client.put(f"/v1/customer_sessions/{sid}", json={})
    assert response.status_code == 200
    assert response.json()["session"]["state"] == "closed"
    # Repeating the state it shows is the idempotent no-op of a closed session
    again = client.put(f"/v1/customer_sessions/{sid}", json={"state": "closed"})
    assert again.status_code == 200
    assert (
        client.get(f"/v2/customer_sessions/{sid}").json()["customerSession"]["state"] == "partially_returned"
    )


def test_returns_accept_an_idempotency_key(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    # Given a return sent twice with the same Idempotency-Key
    sid = closed_session(client, uid)
    headers = {"Idempotency-Key": uid("key")}
    body = {"return": {"returnedCartItems": [{"position": 0, "quantity": 1}]}}
    first = client.post(f"/v2/customer_sessions/{sid}/returns", json=body, headers=headers)
    second = client.post(f"/v2/customer_sessions/{sid}/returns", json=body, headers=headers)
    # Then the second gets the stored answer and nothing is returned twice
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert sandbox.state.sessions[sid]["cartItems"][0]["returnedQuantity"] == 1
    assert sandbox.counts("returnCartItems") == {"received": 2, "processed": 1}
    # And a key longer than 255 characters is refused
    too_long = client.post(
        f"/v2/customer_sessions/{sid}/returns", json=body, headers={"Idempotency-Key": "k" * 256}
    )
    assert too_long.status_code == 400
