"""Catalog sync and catalog prices in carts, the best prior price, the campaigns list, achievements
and the customer inventory's flags."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sandbox import Sandbox

from .conftest import item, v2

Uid = Callable[[str], str]


def sync(client: httpx.Client, *actions: dict[str, Any], **extra: Any) -> httpx.Response:
    return client.put("/v1/catalogs/1/sync", json={"actions": list(actions), **extra})


def cart_item(client: httpx.Client, uid: Uid, sku: str, **fields: Any) -> dict[str, Any]:
    response = v2(client, uid("s"), {"cartItems": [{"sku": sku, "quantity": 1, **fields}]}, "customerSession")
    assert response.status_code == 200, response.text
    stored: dict[str, Any] = response.json()["customerSession"]["cartItems"][0]
    return stored


def test_cart_items_are_priced_from_the_catalog(client: httpx.Client, uid: Uid) -> None:
    # A catalog SKU without a price takes the catalog's price and id; a sent price overrides it
    catalog_priced = cart_item(client, uid, "SKU-TSHIRT")
    overridden = cart_item(client, uid, "SKU-TSHIRT", price=12.5)
    assert (catalog_priced["price"], catalog_priced["catalogItemID"]) == (20, 1001)
    assert catalog_priced["product"] == {"name": "T-shirt"}
    assert (overridden["price"], overridden["catalogItemID"]) == (12.5, 1001)
    # A SKU in no catalog needs its price
    response = v2(client, uid("s"), {"cartItems": [{"sku": "NOT-IN-CATALOG", "quantity": 1}]})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == "/customerSession/cartItems/0/price"


def test_catalog_sync_then_cart_prices(client: httpx.Client, sandbox: Sandbox, uid: Uid) -> None:
    # Given a new item, then a price change of an existing one
    added = sync(
        client, {"type": "ADD", "payload": {"sku": "SKU-NEW", "price": 7, "attributes": {"color": "red"}}}
    )
    patched = sync(client, {"type": "PATCH", "payload": {"sku": "SKU-MUG", "price": 9.5}}, version=2)
    # Then each sync bumps the version and the carts use the new prices
    assert [added.json()["version"], patched.json()["version"]] == [2, 3]
    assert cart_item(client, uid, "SKU-NEW")["price"] == 7
    assert cart_item(client, uid, "SKU-MUG")["price"] == 9.5
    assert sandbox.state.catalogs["1"]["items"]["SKU-NEW"]["attributes"] == {"color": "red"}
    # And removed items are no longer priced
    sync(client, {"type": "REMOVE", "payload": {"sku": "SKU-NEW"}})
    assert v2(client, uid("s"), {"cartItems": [{"sku": "SKU-NEW", "quantity": 1}]}).status_code == 400


def test_catalog_sync_by_filters(client: httpx.Client, sandbox: Sandbox) -> None:
    # Seeded: SKU-TSHIRT (blue, 40), SKU-MUG (white), SKU-CAP (blue, 46)
    sync(
        client,
        {
            "type": "PATCH_MANY",
            "payload": {
                "attributes": {"sale": True},
                "filters": [{"attr": "color", "op": "EQ", "value": "blue"}],
            },
        },
    )
    items = sandbox.state.catalogs["1"]["items"]
    assert [sku for sku, i in items.items() if i["attributes"].get("sale")] == ["SKU-TSHIRT", "SKU-CAP"]
    sync(
        client, {"type": "REMOVE_MANY", "payload": {"filters": [{"attr": "size", "op": "GT", "value": "45"}]}}
    )
    assert list(sandbox.state.catalogs["1"]["items"]) == ["SKU-TSHIRT", "SKU-MUG"]
    sync(
        client,
        {
            "type": "REMOVE_MANY",
            "payload": {"filters": [{"attr": "color", "op": "IN", "value": "white, green"}]},
        },
    )
    assert list(sandbox.state.catalogs["1"]["items"]) == ["SKU-TSHIRT"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"actions": [{"type": "ADD", "payload": {"sku": "SKU-MUG", "price": 1}}]}, 400),  # exists
        (
            {
                "actions": [
                    {"type": "ADD", "payload": {"sku": "A"}},
                    {"type": "REMOVE", "payload": {"sku": "B"}},
                ]
            },
            400,
        ),
        (
            {"actions": [{"type": "ADD", "payload": {"sku": "A"}}, {"type": "ADD", "payload": {"sku": "A"}}]},
            400,
        ),
        ({"actions": [{"type": "PATCH", "payload": {"sku": "NOPE", "price": 1}}]}, 400),
        ({"actions": [{"type": "REMOVE", "payload": {}}]}, 400),
        ({"actions": [{"type": "ADD", "payload": {"sku": "A"}}], "version": 7}, 400),  # not the current one
        ({"actions": []}, 400),
        ({"actions": [{"type": "MOVE", "payload": {}}]}, 400),
    ],
)
def test_catalog_sync_errors_change_nothing(
    client: httpx.Client, sandbox: Sandbox, body: dict[str, Any], status: int
) -> None:
    before = sandbox.state.catalogs
    response = client.put("/v1/catalogs/1/sync", json=body)
    assert response.status_code == status
    assert sandbox.state.catalogs == before


def test_sync_replace_and_create(client: httpx.Client, uid: Uid) -> None:
    sync(client, {"type": "ADD", "payload": {"sku": "SKU-MUG", "price": 3, "replaceIfExists": True}})
    sync(client, {"type": "PATCH", "payload": {"sku": "SKU-FRESH", "price": 4, "createIfNotExists": True}})
    assert cart_item(client, uid, "SKU-MUG")["price"] == 3
    assert cart_item(client, uid, "SKU-FRESH")["price"] == 4


@pytest.mark.parametrize(
    ("end", "kind", "expected"),
    [
        ("2025-03-15T00:00:00Z", "strict", 18),  # 25, 18 and 20 were seen in the 90 days up to then
        ("2025-03-15T00:00:00Z", "price", 18),  # the window ends where 20 started (2025-03-01)
        ("2025-01-15T00:00:00Z", "strict", 25),
        ("2025-01-15T00:00:00Z", "price", None),  # nothing before the current price
    ],
)
def test_best_prior_price(client: httpx.Client, end: str, kind: str, expected: float | None) -> None:
    body = {"skus": ["SKU-TSHIRT"], "timeframeEndDate": end, "timeframe": "90", "timeframeEndDateType": kind}
    answer = client.post("/v1/best_prior_price", json=body).json()
    assert [p["price"] for p in answer] == ([] if expected is None else [expected])


def test_best_prior_price_follows_syncs(client: httpx.Client) -> None:
    sync(client, {"type": "PATCH", "payload": {"sku": "SKU-MUG", "price": 2}})
    body = {
        "skus": ["SKU-MUG"],
        "timeframeEndDate": "2099-01-01T00:00:00Z",
        "timeframe": "36500",
        "timeframeEndDateType": "strict",
        "target": {"targetType": "NONE"},
    }
    [best] = client.post("/v1/best_prior_price", json=body).json()
    assert (best["price"], best["target"]) == (2, {"targetType": "NONE"})


def test_campaigns_list_shows_running_campaigns(client: httpx.Client) -> None:
    data = client.get("/v1/integration/campaigns").json()
    # 3 (disabled) and 4 (ended) are not running
    assert [c["id"] for c in data["data"]] == [1, 2, 5, 6, 7, 8, 9, 10]
    assert data["hasMore"] is False
    first = data["data"][0]
    assert (first["state"], first["rules"], first["features"]) == (
        "enabled",
        [{"title": "Summer 20% off"}],
        ["coupons"],
    )


@pytest.mark.parametrize(
    ("query", "ids", "more"),
    [
        ({"pageSize": "3"}, [1, 2, 5], True),
        ({"pageSize": "3", "skip": "6"}, [9, 10], False),
        ({"campaignIds": "5,7,3"}, [5, 7], False),
        ({"audienceId": "1"}, [7], False),
        ({"endBefore": "2100-01-01"}, [1, 5], False),  # a plain date is accepted
        ({"endAfter": "2100-01-01T00:00:00Z"}, [2, 6, 7, 8, 9, 10], False),  # no end: never ends
        ({"startAfter": "2020-01-01T00:00:01Z"}, [], False),
    ],
)
def test_campaigns_list_filters(
    client: httpx.Client, query: dict[str, str], ids: list[int], more: bool
) -> None:
    data = client.get("/v1/integration/campaigns", params=query).json()
    assert ([c["id"] for c in data["data"]], data["hasMore"]) == (ids, more)


def test_achievements_with_progress(client: httpx.Client) -> None:
    data = client.get("/v1/customer_profiles/loyal-1/achievements").json()
    # Active achievements only, unless asked; each with the customer's current progress
    assert data["totalResultSize"] == 2
    progress = {a["name"]: a["currentProgress"] for a in data["data"]}
    assert progress["ThreeOrders"] == {
        "status": "inprogress",
        "progress": 1,
        "startDate": "2025-01-01T00:00:00Z",
    }
    assert progress["MonthlyShopper"]["status"] == "completed"
    everything = client.get(
        "/v1/customer_profiles/loyal-1/achievements", params={"achievementStatus": "active,scheduled"}
    )
    assert [a["id"] for a in everything.json()["data"]] == [1, 2, 3]
    completed = client.get(
        "/v1/customer_profiles/loyal-1/achievements", params={"currentProgressStatus": "completed"}
    )
    assert [a["id"] for a in completed.json()["data"]] == [2]
    not_started = client.get(
        "/v1/customer_profiles/loyal-2/achievements", params={"currentProgressStatus": "not_started"}
    )
    assert [a["id"] for a in not_started.json()["data"]] == [1, 2]


def test_achievement_history(client: httpx.Client) -> None:
    history = client.get("/v1/customer_profiles/loyal-1/achievements/2").json()
    assert [(h["status"], h["progress"]) for h in history["data"]] == [("completed", 2), ("expired", 1)]
    expired = client.get(
        "/v1/customer_profiles/loyal-1/achievements/2", params={"progressStatus": "expired"}
    ).json()
    assert expired["totalResultSize"] == 1
    recent = client.get(
        "/v1/customer_profiles/loyal-1/achievements/2", params={"startDate": "2024-02-01T00:00:00Z"}
    ).json()
    assert [h["status"] for h in recent["data"]] == ["completed"]


def test_closed_sessions_make_achievement_progress(client: httpx.Client, uid: Uid) -> None:
    # ThreeOrders: loyal-1 is at 1 of 3; two closed sessions complete it, a cancel undoes a step
    sessions = [uid("s") for _ in range(2)]
    for sid in sessions:
        v2(client, sid, {"profileId": "loyal-1", "cartItems": [item()], "state": "closed"})
    done = client.get("/v1/customer_profiles/loyal-1/achievements", params={"achievementIds": "1"}).json()
    assert done["data"][0]["currentProgress"]["status"] == "completed"
    # Completion is not rolled back (allowRollbackAfterCompletion is false)
    v2(client, sessions[1], {"state": "cancelled"})
    still = client.get("/v1/customer_profiles/loyal-1/achievements", params={"achievementIds": "1"}).json()
    assert still["data"][0]["currentProgress"]["progress"] == 3
    # A new customer starts a run with their first closed session
    pid = uid("p")
    v2(client, uid("s"), {"profileId": pid, "cartItems": [item()], "state": "closed"})
    fresh = client.get(f"/v1/customer_profiles/{pid}/achievements/1").json()
    assert [(h["status"], h["progress"]) for h in fresh["data"]] == [("inprogress", 1)]


def test_inventory_flags(client: httpx.Client) -> None:
    path = "/v1/customer_profiles/loyal-1/inventory"
    flags = ["profile", "referrals", "coupons", "loyalty", "giveaways", "achievements"]
    assert client.get(path).json() == {}
    for flag in flags:
        assert set(client.get(path, params={flag: "true"}).json()) == {flag}
    everything = client.get(path, params=dict.fromkeys(flags, "true")).json()
    assert set(everything) == set(flags)
    [coupon] = everything["coupons"]
    assert (coupon["value"], coupon["state"], coupon["profileRedemptionCount"]) == (
        "LENA-WALLET",
        "active",
        0,
    )
    assert everything["giveaways"] == []
    assert [a["achievementId"] for a in everything["achievements"]] == [1, 2]


def test_inventory_coupon_states(client: httpx.Client, uid: Uid) -> None:
    # Reserved, personal and redeemed coupons, each in its InventoryCoupon state
    pid = uid("p")
    for code in ("EXPIRED2020", "FUTURE2098", "PAUSED5", "ONCE-ONLY"):
        client.post(f"/v1/coupon_reservations/{code}", json={"integrationIDs": [pid]})
    v2(
        client,
        uid("s"),
        {"profileId": pid, "couponCodes": ["ONCE-ONLY"], "cartItems": [item()], "state": "closed"},
    )
    coupons = client.get(f"/v1/customer_profiles/{pid}/inventory", params={"coupons": "true"}).json()[
        "coupons"
    ]
    states = {c["value"]: (c["state"], c["profileRedemptionCount"]) for c in coupons}
    assert states == {
        "EXPIRED2020": ("expired", 0),
        "ONCE-ONLY": ("used", 1),
        "FUTURE2098": ("pending", 0),
        "PAUSED5": ("disabled", 0),
    }
    alice = client.put("/v2/customer_profiles/alice", json={})
    assert alice.status_code == 200
    personal = client.get("/v1/customer_profiles/alice/inventory", params={"coupons": "true"}).json()[
        "coupons"
    ]
    assert [c["value"] for c in personal] == ["ALICE-GIFT"]


def test_inventory_referrals_list_referred_customers(client: httpx.Client, uid: Uid) -> None:
    friend = uid("friend")
    v2(
        client,
        uid("s"),
        {"profileId": friend, "referralCode": "REF-ADA-0001", "cartItems": [item()], "state": "closed"},
    )
    referrals = client.get("/v1/customer_profiles/advocate-1/inventory", params={"referrals": "true"}).json()[
        "referrals"
    ]
    assert {r["code"]: r["referredCustomers"] for r in referrals}["REF-ADA-0001"] == [friend]
