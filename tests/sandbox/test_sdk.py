"""Talon.One's official Python SDK (talon-one-sdk 26.2) as a real client of the sandbox.

Its generated pydantic models are strict: a 2020-shaped answer (200 for a create, a session
without id/updateCount/updated, a profile without id) fails to deserialize. Operations the SDK
release does not have (v3 events, campaigns list, joining a program) are read with its models.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from uuid import UUID

import httpx
import pytest
import talon_one
import talon_one as t
from talon_one.exceptions import ApiException

from sandbox import DEFAULT_API_KEY, Sandbox

Uid = Callable[[str], str]


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[talon_one.IntegrationApi]:
    configuration = talon_one.Configuration(
        host=sandbox.url,
        api_key={"api_key_v1": DEFAULT_API_KEY},
        api_key_prefix={"api_key_v1": "ApiKey-v1"},
    )
    with talon_one.ApiClient(configuration) as client:
        yield talon_one.IntegrationApi(client)


def cart() -> list[t.CartItem]:
    return [
        t.CartItem(name="T-shirt", sku="SKU-TSHIRT", quantity=2),  # priced by the catalog
        t.CartItem(name="Socks", sku="SOCKS", quantity=1, price=5.0),
    ]


def test_session_lifecycle_through_the_sdk(api: talon_one.IntegrationApi, uid: Uid) -> None:
    # Given a loyalty member's session with a coupon, updated through the SDK
    sid = uid("s")
    request = t.IntegrationRequest(
        customer_session=t.NewCustomerSessionV2(
            profile_id="loyal-1", coupon_codes=["SUMMER20"], cart_items=cart()
        ),
        response_content=[
            "customerSession",
            "customerProfile",
            "coupons",
            "loyalty",
            "triggeredCampaigns",
            "event",
        ],
    )
    state = api.update_customer_session_v2(sid, request)
    # Then the SDK reads today's shapes: ids, update counts, totals, coupons and loyalty
    assert isinstance(state, t.IntegrationStateV2)
    session = state.customer_session
    assert session is not None
    assert (session.integration_id, session.state, session.update_count) == (sid, "open", 1)
    assert session.cart_item_total == 45
    assert session.cart_items is not None
    assert session.cart_items[0].catalog_item_id == 1001
    assert state.customer_profile is not None
    assert state.customer_profile.id > 0
    assert [c.value for c in state.coupons or []] == ["SUMMER20"]
    assert state.loyalty is not None
    assert "1" in state.loyalty.programs
    assert [e.effect_type for e in state.effects][:2] == ["acceptCoupon", "setDiscount"]
    # When closing, reading, returning, reopening
    close = t.IntegrationRequest(customer_session=t.NewCustomerSessionV2(state="closed"))
    assert api.update_customer_session_v2(sid, close).effects
    read = api.get_customer_session(sid)
    assert read.customer_session is not None
    assert read.customer_session.state == "closed"
    returned = api.return_cart_items(
        sid,
        t.ReturnIntegrationRequest(
            var_return=t.NewReturn(returned_cart_items=[t.ReturnedCartItem(position=1, quantity=1)]),
            response_content=["customerSession"],
        ),
    )
    assert returned.customer_session is not None
    assert returned.customer_session.state == "partially_returned"
    assert returned.var_return is not None
    assert returned.var_return.session_integration_id == sid
    # A partially returned session cannot be reopened; a closed one can
    with pytest.raises(ApiException) as refused:
        api.reopen_customer_session(sid)
    assert refused.value.status == 400
    other = uid("s")
    api.update_customer_session_v2(
        other, t.IntegrationRequest(customer_session=t.NewCustomerSessionV2(state="closed"))
    )
    reopened = api.reopen_customer_session(other)
    assert isinstance(reopened, t.ReopenSessionResponse)


def test_dry_run_with_now_through_the_sdk(api: talon_one.IntegrationApi, sandbox: Sandbox, uid: Uid) -> None:
    request = t.IntegrationRequest(
        customer_session=t.NewCustomerSessionV2(coupon_codes=["FUTURE2098"], cart_items=cart()),
        response_content=["customerSession"],
    )
    state = api.update_customer_session_v2(uid("s"), request, dry=True, now=datetime(2098, 6, 1, tzinfo=UTC))
    assert state.effects[0].effect_type == "acceptCoupon"
    assert sandbox.state.sessions == {}


def test_profiles_through_the_sdk(api: talon_one.IntegrationApi, uid: Uid) -> None:
    pid = uid("p")
    single = api.update_customer_profile_v2(
        pid,
        t.CustomerProfileIntegrationRequestV2(
            attributes={"name": "P"},
            response_content=["customerProfile"],
            audiences_changes=t.ProfileAudiencesChanges(adds=[1], deletes=[]),
        ),
        run_rule_engine=True,
    )
    assert single.customer_profile is not None
    assert single.customer_profile.audience_memberships is not None
    assert [a.id for a in single.customer_profile.audience_memberships] == [1]
    batch = api.update_customer_profiles_v2(
        t.MultipleCustomerProfileIntegrationRequest(
            customer_profiles=[
                t.MultipleCustomerProfileIntegrationRequestItem(integration_id=pid, attributes={"b": 1})
            ]
        ),
        silent="no",
    )
    assert batch.integration_states is not None
    assert batch.integration_states[0].customer_profile.attributes == {"name": "P", "b": 1}
    inventory = api.get_customer_inventory(
        "loyal-1", profile=True, referrals=True, coupons=True, loyalty=True, giveaways=True, achievements=True
    )
    assert inventory.profile is not None
    assert inventory.profile.integration_id == "loyal-1"
    assert [c.value for c in inventory.coupons or []] == ["LENA-WALLET"]
    assert inventory.achievements is not None


def test_coupons_referrals_and_events_through_the_sdk(api: talon_one.IntegrationApi, uid: Uid) -> None:
    pid = uid("p")
    coupon = api.create_coupon_reservation("SUMMER20", t.CouponReservations(integration_ids=[pid]))
    assert coupon.value == "SUMMER20"
    customers = api.get_reserved_customers("SUMMER20")
    assert [p.integration_id for p in customers.data] == [pid]
    api.delete_coupon_reservation("SUMMER20", t.CouponReservations(integration_ids=[pid]))
    referral = api.create_referral(t.NewReferral(campaign_id=5, advocate_profile_integration_id=pid))
    assert referral.code.startswith("REF-")
    many = api.create_referrals_for_multiple_advocates(
        t.NewReferralsForMultipleAdvocates(campaign_id=5, advocate_profile_integration_ids=[pid, uid("p")]),
        silent="no",
    )
    assert many.total_result_size == 2
    event = api.track_event_v2(
        t.IntegrationEventV2Request(profile_id=pid, type="viewed_promo", response_content=["event"]),
        silent="no",
    )
    assert event.event is not None
    assert event.event.type == "viewed_promo"
    api.delete_customer_data(pid)


def test_loyalty_through_the_sdk(api: talon_one.IntegrationApi, uid: Uid) -> None:
    balances = api.get_loyalty_balances(1, "loyal-1", include_tiers=True)
    assert balances.balance is not None
    assert balances.balance.active_points == 100
    points = api.get_loyalty_program_profile_points(1, "loyal-1", status="pending")
    assert [p.amount for p in points.data] == [20]
    transactions = api.get_loyalty_program_profile_transactions(1, "loyal-1")
    assert len(transactions.data) == 4
    card_balances = api.get_loyalty_card_balances(2, "CARD-0001")
    assert card_balances.balance is not None
    assert card_balances.balance.active_points == 50
    assert api.get_loyalty_card_points(2, "CARD-0001").data[0].amount == 50
    assert api.get_loyalty_card_transactions(2, "CARD-0001").data[0].card_identifier == "CARD-0001"
    card = api.generate_loyalty_card(2, t.GenerateLoyaltyCard(customer_profile_ids=["loyal-2"]))
    linked = api.link_loyalty_card_to_profile(
        2, card.identifier, t.LoyaltyCardRegistration(integration_id="loyal-1")
    )
    assert [p.integration_id for p in linked.profiles or []] == ["loyal-2", "loyal-1"]
    api.unlink_loyalty_card_from_profile(
        2, card.identifier, t.LoyaltyCardRegistration(integration_id="loyal-2")
    )
    activated = api.activate_loyalty_points(
        1, t.ActivateLoyaltyPoints(transaction_uuids=[UUID("00000000-0000-4000-8000-000000000002")])
    )
    assert [e.amount for e in activated.ledger_entries or []] == [20]
    api.delete_loyalty_transactions_from_ledgers(
        1, "loyal-1", t.DeleteLoyaltyTransactionsRequest(scope="AllSubledgers")
    )
    assert api.get_loyalty_balances(1, "loyal-1").balance.active_points == 0  # type: ignore[union-attr]


def test_audiences_achievements_catalog_through_the_sdk(api: talon_one.IntegrationApi, uid: Uid) -> None:
    audience = api.create_audience_v2(t.NewAudience(name="SDK audience"))
    assert audience.id > 0
    assert api.update_audience_v2(audience.id, t.UpdateAudience(name="Renamed")).name == "Renamed"
    api.update_customer_profile_audiences(
        t.CustomerProfileAudienceRequest(
            data=[
                t.CustomerProfileAudienceRequestItem(
                    action="add", profile_integration_id="loyal-2", audience_id=audience.id
                )
            ]
        )
    )
    api.update_audience_customers_attributes(audience.id, {"segment": "sdk"})
    api.delete_audience_memberships_v2(audience.id)
    api.delete_audience_v2(audience.id)
    achievements = api.get_customer_achievements("loyal-1")
    assert [a.id for a in achievements.data] == [1, 2]
    history = api.get_customer_achievement_history("loyal-1", 2)
    assert [h.status for h in history.data] == ["completed", "expired"]
    catalog = api.sync_catalog(
        1, t.CatalogSyncRequest(actions=[{"type": "ADD", "payload": {"sku": "SKU-SDK", "price": 3}}])
    )
    assert catalog.version == 2
    # This SDK release's BestPriorPriceRequest predates today's (it wants strictEndDate): raw request
    body = {
        "skus": ["SKU-TSHIRT"],
        "timeframeEndDate": "2025-03-15T00:00:00Z",
        "timeframe": "90",
        "timeframeEndDateType": "strict",
    }
    prices = api.api_client.rest_client.request(
        "POST",
        f"{api.api_client.configuration.host}/v1/best_prior_price",
        headers={"Authorization": f"ApiKey-v1 {DEFAULT_API_KEY}", "Content-Type": "application/json"},
        body=body,
    )
    prices.read()
    [best] = [t.BestPriorPrice.from_dict(p) for p in json.loads(prices.data)]
    assert best is not None
    assert (best.sku, best.price) == ("SKU-TSHIRT", 18)


def test_sdk_errors(api: talon_one.IntegrationApi, uid: Uid) -> None:
    with pytest.raises(ApiException) as not_found:
        api.get_customer_inventory(uid("nobody"))
    with pytest.raises(ApiException) as bad:
        api.get_customer_session(uid("nothing"))
    assert (not_found.value.status, bad.value.status) == (404, 400)
    assert '"StatusCode":404' in (not_found.value.body or "")


def test_models_read_the_operations_the_sdk_release_lacks(client: httpx.Client, uid: Uid) -> None:
    # trackEventV3 / getEventV3
    event_id = uid("e")
    tracked = client.post(
        "/v3/events",
        json={
            "profileId": "p",
            "type": "viewed_promo",
            "integrationId": event_id,
            "responseContent": ["advancedEvent"],
        },
    )
    # (this SDK release predates `advancedEvent`: its model reads the rest of the answer)
    response = t.IntegrationEventV3Response.from_json(tracked.text)
    assert response is not None
    assert response.effects[0].effect_type == "showNotification"
    event = t.EventV3.from_json(client.get(f"/v3/events/{event_id}").text)
    assert event is not None
    assert event.type == "viewed_promo"
    # Today's entities, read with their models
    session = client.put(
        f"/v2/customer_sessions/{uid('s')}",
        json={
            "customerSession": {"profileId": "loyal-1"},
            "responseContent": ["customerSession", "customerProfile"],
        },
    )
    state = t.IntegrationStateV2.from_json(session.text)
    assert state is not None
    assert state.customer_session is not None
    assert t.CustomerSessionV2.from_dict(session.json()["customerSession"]) is not None
    assert t.CustomerProfile.from_dict(session.json()["customerProfile"]) is not None
    # joinLoyaltyProgram: documented as 200 without a body
    joined = client.post(f"/v1/loyalty_programs/1/profile/{uid('p')}/join")
    assert (joined.status_code, joined.content) == (200, b"")


def test_the_sdk_refuses_a_2020_shaped_session() -> None:
    # The reason the sandbox answers today's shapes: the 2020 session lacks id, updateCount, updated
    legacy = {
        "integrationId": "s",
        "created": "2020-01-01T00:00:00Z",
        "applicationId": 42,
        "profileId": "p",
        "state": "open",
        "firstSession": True,
        "total": 0,
        "cartItemTotal": 0,
        "additionalCostTotal": 0,
    }
    with pytest.raises(ValueError, match="id"):
        t.CustomerSessionV2.from_dict(legacy)
