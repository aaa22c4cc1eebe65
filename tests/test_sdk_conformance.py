"""Talon.One's official Python SDK (talon-one-sdk) as a conformance suite for the local gateway.

The SDK is configured with the local gateway as its host and the stack's bearer token as its
credential (its ``api_key_v1`` scheme with the prefix ``Bearer``). Every method of
``talon_one.IntegrationApi``, enumerated from the class, is called through its
``*_with_http_info`` variant with a payload built from the SDK's own models (their defaults
left alone) and the sandbox's seeded ids. Each call must answer the status today's spec
documents, deserialized into the model the SDK's signature names. A method of the SDK without
a row here fails the suite.

Rows run in the order below, each after the rows it ``needs`` (a session is closed before its
items are returned, a card linked before it is unlinked, an audience created before it is
updated or deleted), and each at most once: ``-k`` on one row still runs its prerequisites.
The sandbox is reset once, before the first call. pytest's terminal summary ends with the
table method → status → model (with or without ``-s``).

The SDK's ``BestPriorPriceRequest`` predates today's spec: it sends ``strictEndDate``, where
today's operation requires ``timeframeEndDateType``. Its row sends today's body through the
SDK's own method, serializer and deserializer (``TodaysBestPriorPriceRequest``); a separate
test pins that the stock body is refused by the gateway and by Talon.One's contract alike.
"""

from __future__ import annotations

import inspect
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args, get_origin
from uuid import UUID

import pytest
import talon_one
import talon_one as t
from pydantic import Field
from talon_one.api_response import ApiResponse
from talon_one.exceptions import ApiException

from local_gateway.stack import LocalStack
from local_gateway.template import ROOT
from sandbox import DEFAULT_API_KEY
from tests.conftest import reset_sandbox
from tests.support import log_tap

SPEC = ROOT / "spec" / "current" / "integration-api.openapi.json"

SESSION = "sdk-conformance-session"
CUSTOMER = "sdk-conformance-customer"
CUSTOMER_NAME = "Conformance Customer"
CUSTOMER_EMAIL = "conformance.customer@example.com"
CUSTOMER_SEGMENT = "sdk-conformance-segment"
log_tap.register(CUSTOMER_NAME, CUSTOMER_EMAIL, CUSTOMER_SEGMENT)

# Seeded ids (sandbox/README.md, "The bundled seed").
POINTS_PROGRAM = 1  # profile-based, subledger "beauty"
CARD_PROGRAM = 2  # card-based, 2 users per card
PENDING_TRANSACTION = UUID("00000000-0000-4000-8000-000000000002")  # loyal-1's 20 pending points
VIP_AUDIENCE = 1
CATALOG = 1
REFERRAL_CAMPAIGN = 5
ENCODED_COUPON = "SUMMER 20/50%"  # campaign 1's valid coupon whose value needs encoding in a path

# SDK method → reason, for a row that fails because of the gateway (pytest.mark.xfail, strict).
GATEWAY_PROBLEMS: dict[str, str] = {}


def sdk_methods() -> list[str]:
    """Every operation method of the SDK's IntegrationApi (not its two variants of each)."""
    return [
        name
        for name, _ in inspect.getmembers(talon_one.IntegrationApi, inspect.isfunction)
        if not name.startswith("_") and not name.endswith(("_with_http_info", "_without_preload_content"))
    ]


def operation_id(method: str) -> str:
    first, *rest = method.split("_")
    return first + "".join(part.capitalize() for part in rest)


def documented_successes() -> dict[str, set[int]]:
    """operationId → its documented 2xx statuses, from today's spec."""
    document = json.loads(SPEC.read_text())
    return {
        operation["operationId"]: {int(status) for status in operation["responses"] if status.startswith("2")}
        for methods in document["paths"].values()
        for operation in methods.values()
    }


def sdk_model(method: str) -> Any:
    """What the SDK's signature says the answer deserializes into (None: no body)."""
    answer = inspect.signature(
        getattr(talon_one.IntegrationApi, f"{method}_with_http_info")
    ).return_annotation
    return answer.__pydantic_generic_metadata__["args"][0]


def describe(data: Any) -> str:
    if data is None:
        return "- (no body)"
    if isinstance(data, list):
        return f"list[{type(data[0]).__name__ if data else ''}]"
    return type(data).__name__


class TodaysBestPriorPriceRequest(t.BestPriorPriceRequest):
    """The SDK's BestPriorPriceRequest, sending today's ``timeframeEndDateType``.

    The SDK release requires ``strictEndDate`` (construction), which today's spec no longer has:
    it is left out of the body (serialization).
    """

    timeframe_end_date_type: Literal["strict", "price", "sale"] = Field(alias="timeframeEndDateType")

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        del body["strictEndDate"]
        return body


@dataclass
class Call:
    status: int
    deserialized: str


@dataclass
class Scenario:
    """The SDK's client of the gateway, the rows already run, every call's status and model."""

    api: talon_one.IntegrationApi
    stack: LocalStack
    done: dict[str, ApiResponse[Any]] = field(default_factory=dict)
    failed: dict[str, BaseException] = field(default_factory=dict)
    calls: dict[str, list[Call]] = field(default_factory=dict)
    audience_id: int = 0

    def send[**P, R](
        self, method: Callable[P, ApiResponse[R]], *args: P.args, **kwargs: P.kwargs
    ) -> ApiResponse[R]:
        """Call an SDK ``*_with_http_info`` method, keeping its status and model for the table."""
        calls = self.calls.setdefault(method.__name__.removesuffix("_with_http_info"), [])
        try:
            response = method(*args, **kwargs)
        except ApiException as error:
            calls.append(Call(error.status, f"error: {(error.body or '')[:80]}"))
            raise
        calls.append(Call(response.status_code, describe(response.data)))
        return response

    def run(self, method: str) -> ApiResponse[Any]:
        """The row of ``method``, after the rows it needs; each row runs at most once."""
        if method in self.failed:
            raise self.failed[method]
        if method not in self.done:
            for need in ROWS[method].needs:
                try:
                    self.run(need)
                except (Exception, pytest.fail.Exception) as error:
                    pytest.fail(f"{method} needs {need}, which failed: {error!r}")
            try:
                self.done[method] = ROWS[method].call(self)
            except (Exception, pytest.fail.Exception) as error:
                self.failed[method] = error
                raise
        return self.done[method]


@dataclass(frozen=True)
class Row:
    status: int
    call: Callable[[Scenario], ApiResponse[Any]]
    needs: tuple[str, ...]


ROWS: dict[str, Row] = {}


def row(
    status: int, *needs: str
) -> Callable[[Callable[[Scenario], ApiResponse[Any]]], Callable[[Scenario], ApiResponse[Any]]]:
    """Register the function as the row of the SDK method it is named after."""

    def register(call: Callable[[Scenario], ApiResponse[Any]]) -> Callable[[Scenario], ApiResponse[Any]]:
        ROWS[call.__name__] = Row(status, call, needs)
        return call

    return register


def cart() -> list[t.CartItem]:
    return [
        t.CartItem(
            name="T-shirt", sku="SKU-TSHIRT", quantity=2, price=20.0, category="apparel", attributes={}
        ),
        t.CartItem(name="Mug", sku="SKU-MUG", quantity=1, price=8.5),
    ]


# Every value of the SDK's enums (this release predates campaignEligibility and achievements).
SESSION_CONTENT = [
    "customerSession",
    "customerProfile",
    "coupons",
    "triggeredCampaigns",
    "referral",
    "loyalty",
    "event",
    "awardedGiveaways",
    "ruleFailureReasons",
    "previousReturns",
]
RETURN_CONTENT = [
    "customerSession",
    "customerProfile",
    "coupons",
    "triggeredCampaigns",
    "referral",
    "loyalty",
    "event",
    "previousReturns",
]


def session_update(state: str | None = None) -> t.IntegrationRequest:
    """loyal-1's order: a coupon, a referral, the loyalty card, shipping (state: the SDK's default)."""
    details: dict[str, Any] = {} if state is None else {"state": state}
    return t.IntegrationRequest(
        customer_session=t.NewCustomerSessionV2(
            profile_id="loyal-1",
            coupon_codes=["SUMMER20"],
            referral_code="REF-ADA-0001",
            loyalty_cards=["CARD-0001"],
            cart_items=cart(),
            additional_costs={"shipping": t.AdditionalCost(price=4.9)},
            **details,
        ),
        response_content=SESSION_CONTENT,
    )


# --- Reads of the seed (before anything changes it) ---------------------------------------


@row(200)
def get_customer_inventory(s: Scenario) -> ApiResponse[Any]:
    # When loyal-1's whole inventory is read
    response = s.send(
        s.api.get_customer_inventory_with_http_info,
        "loyal-1",
        profile=True,
        referrals=True,
        coupons=True,
        loyalty=True,
        giveaways=True,
        achievements=True,
    )
    # Then it holds the profile, the soft-reserved coupon and program 1's ledger
    inventory = response.data
    assert inventory.profile is not None
    assert inventory.profile.integration_id == "loyal-1"
    assert [coupon.value for coupon in inventory.coupons or []] == ["LENA-WALLET"]
    assert inventory.loyalty is not None
    assert str(POINTS_PROGRAM) in inventory.loyalty.programs
    return response


@row(200)
def get_customer_achievements(s: Scenario) -> ApiResponse[Any]:
    response = s.send(
        s.api.get_customer_achievements_with_http_info,
        "loyal-1",
        campaign_ids=["10"],
        achievement_status=["active"],
        page_size=10,
        skip=0,
    )
    # Then the active achievements of campaign 10 (the scheduled one is left out)
    assert [achievement.id for achievement in response.data.data] == [1, 2]
    return response


@row(200)
def get_customer_achievement_history(s: Scenario) -> ApiResponse[Any]:
    response = s.send(
        s.api.get_customer_achievement_history_with_http_info,
        "loyal-1",
        2,
        start_date=datetime(2023, 1, 1, tzinfo=UTC),
        end_date=datetime(2026, 1, 1, tzinfo=UTC),
        page_size=10,
    )
    # Then MonthlyShopper's two runs, newest first (dates sent in the SDK's own format)
    assert [run.status for run in response.data.data] == ["completed", "expired"]
    return response


@row(200)
def get_loyalty_balances(s: Scenario) -> ApiResponse[Any]:
    response = s.send(
        s.api.get_loyalty_balances_with_http_info,
        POINTS_PROGRAM,
        "loyal-1",
        include_tiers=True,
        include_projected_tier=True,
    )
    # Then the main ledger's points and tier
    balance = response.data.balance
    assert balance is not None
    assert (balance.active_points, balance.pending_points) == (100, 20)
    assert balance.current_tier is not None
    assert balance.current_tier.name == "Bronze"
    return response


@row(200)
def get_loyalty_program_profile_points(s: Scenario) -> ApiResponse[Any]:
    response = s.send(
        s.api.get_loyalty_program_profile_points_with_http_info,
        POINTS_PROGRAM,
        "loyal-1",
        status="pending",
        page_size=10,
        sort="startDate",
    )
    assert [points.amount for points in response.data.data] == [20]
    return response


@row(200)
def get_loyalty_program_profile_transactions(s: Scenario) -> ApiResponse[Any]:
    response = s.send(
        s.api.get_loyalty_program_profile_transactions_with_http_info,
        POINTS_PROGRAM,
        "loyal-1",
        loyalty_transaction_type="manual",
        start_date=datetime(2019, 1, 1, tzinfo=UTC),
        end_date=datetime(2026, 1, 1, tzinfo=UTC),
        page_size=10,
    )
    assert len(response.data.data) == 4
    return response


@row(200)
def get_loyalty_card_balances(s: Scenario) -> ApiResponse[Any]:
    response = s.send(s.api.get_loyalty_card_balances_with_http_info, CARD_PROGRAM, "CARD-0001")
    assert response.data.balance is not None
    assert response.data.balance.active_points == 50
    return response


@row(200)
def get_loyalty_card_points(s: Scenario) -> ApiResponse[Any]:
    response = s.send(
        s.api.get_loyalty_card_points_with_http_info, CARD_PROGRAM, "CARD-0001", status="active", page_size=10
    )
    assert [points.amount for points in response.data.data] == [50]
    return response


@row(200)
def get_loyalty_card_transactions(s: Scenario) -> ApiResponse[Any]:
    response = s.send(
        s.api.get_loyalty_card_transactions_with_http_info,
        CARD_PROGRAM,
        "CARD-0001",
        start_date=datetime(2019, 1, 1, tzinfo=UTC),
        page_size=10,
    )
    assert [entry.card_identifier for entry in response.data.data] == ["CARD-0001"]
    return response


@row(200)
def best_prior_price(s: Scenario) -> ApiResponse[Any]:
    # Given today's body in the SDK's model: the lowest price of the 90 days up to 2025-03-15
    request = TodaysBestPriorPriceRequest(
        skus=["SKU-TSHIRT"],
        timeframe_end_date=datetime(2025, 3, 15, tzinfo=UTC),
        timeframe="90",
        strict_end_date=True,
        timeframe_end_date_type="strict",
    )
    response = s.send(s.api.best_prior_price_with_http_info, request)
    # Then SKU-TSHIRT's 18 of 2025-02-01
    assert [(price.sku, price.price) for price in response.data] == [("SKU-TSHIRT", 18)]
    return response


# --- Profiles ------------------------------------------------------------------------------


@row(200)
def update_customer_profile_v2(s: Scenario) -> ApiResponse[Any]:
    # When a new customer is created with attributes and joins the VIP audience
    request = t.CustomerProfileIntegrationRequestV2(
        attributes={"name": CUSTOMER_NAME},
        audiences_changes=t.ProfileAudiencesChanges(adds=[VIP_AUDIENCE], deletes=[]),
        response_content=["customerProfile", "triggeredCampaigns"],
    )
    response = s.send(
        s.api.update_customer_profile_v2_with_http_info, CUSTOMER, request, run_rule_engine=True
    )
    # Then the profile answers them
    profile = response.data.customer_profile
    assert profile is not None
    assert (profile.integration_id, profile.attributes) == (CUSTOMER, {"name": CUSTOMER_NAME})
    assert [audience.id for audience in profile.audience_memberships or []] == [VIP_AUDIENCE]
    return response


@row(200, "update_customer_profile_v2")
def update_customer_profiles_v2(s: Scenario) -> ApiResponse[Any]:
    request = t.MultipleCustomerProfileIntegrationRequest(
        customer_profiles=[
            t.MultipleCustomerProfileIntegrationRequestItem(
                integration_id=CUSTOMER, attributes={"email": CUSTOMER_EMAIL}
            ),
            t.MultipleCustomerProfileIntegrationRequestItem(integration_id="sdk-conformance-guest"),
        ]
    )
    # When sent with silent=no (the default, yes, answers 204 without a body)
    response = s.send(s.api.update_customer_profiles_v2_with_http_info, request, silent="no")
    # Then one state per profile, the attributes merged
    states = response.data.integration_states or []
    attributes = [state.customer_profile.attributes for state in states]
    assert attributes == [{"name": CUSTOMER_NAME, "email": CUSTOMER_EMAIL}, {}]
    return response


# --- A session's life: open, closed, reopened, closed, partially returned -----------------


@row(200)
def update_customer_session_v2(s: Scenario) -> ApiResponse[Any]:
    # Given a session opened (the SDK sends state "open") with a coupon and a referral
    opened = s.send(s.api.update_customer_session_v2_with_http_info, SESSION, session_update())
    assert opened.data.customer_session is not None
    assert opened.data.customer_session.state == "open"
    effects = [effect.effect_type for effect in opened.data.effects]
    assert effects[:4] == ["acceptCoupon", "setDiscount", "acceptReferral", "setDiscount"]
    # When it is closed
    closed = s.send(s.api.update_customer_session_v2_with_http_info, SESSION, session_update("closed"))
    # Then it is, and its loyalty points are added
    assert closed.data.customer_session is not None
    assert closed.data.customer_session.state == "closed"
    assert "addLoyaltyPoints" in [effect.effect_type for effect in closed.data.effects]
    return closed


@row(200, "update_customer_session_v2")
def get_customer_session(s: Scenario) -> ApiResponse[Any]:
    response = s.send(s.api.get_customer_session_with_http_info, SESSION)
    session = response.data.customer_session
    assert session is not None
    assert (session.integration_id, session.state) == (SESSION, "closed")
    return response


@row(200, "get_customer_session")
def reopen_customer_session(s: Scenario) -> ApiResponse[Any]:
    # When the closed session is reopened (Talon.One reopens closed sessions only)
    response = s.send(s.api.reopen_customer_session_with_http_info, SESSION)
    # Then what closing did is rolled back
    effects = [effect.effect_type for effect in response.data.effects]
    assert {"rollbackCoupon", "rollbackAddedLoyaltyPoints"} <= set(effects)
    return response


@row(200, "reopen_customer_session")
def return_cart_items(s: Scenario) -> ApiResponse[Any]:
    # Given the reopened session closed again
    s.send(s.api.update_customer_session_v2_with_http_info, SESSION, session_update("closed"))
    # When one of its two T-shirts is returned
    request = t.ReturnIntegrationRequest(
        var_return=t.NewReturn(returned_cart_items=[t.ReturnedCartItem(position=0, quantity=1)]),
        response_content=RETURN_CONTENT,
    )
    response = s.send(s.api.return_cart_items_with_http_info, SESSION, request)
    # Then the session is partially returned
    session = response.data.customer_session
    assert session is not None
    assert session.state == "partially_returned"
    assert response.data.var_return is not None
    assert response.data.var_return.session_integration_id == SESSION
    return response


# --- Events, referrals, coupon reservations -------------------------------------------------


@row(200)
def track_event_v2(s: Scenario) -> ApiResponse[Any]:
    request = t.IntegrationEventV2Request(
        profile_id="loyal-2",
        type="viewed_promo",
        attributes={},
        response_content=["triggeredCampaigns", "customerProfile", "event"],
    )
    response = s.send(s.api.track_event_v2_with_http_info, request, silent="no")
    # Then campaign 6's notification
    assert [effect.effect_type for effect in response.data.effects] == ["showNotification"]
    assert response.data.event is not None
    assert response.data.event.type == "viewed_promo"
    return response


@row(201)
def create_referral(s: Scenario) -> ApiResponse[Any]:
    request = t.NewReferral(
        campaign_id=REFERRAL_CAMPAIGN,
        advocate_profile_integration_id="advocate-1",
        friend_profile_integration_id="loyal-2",
        expiry_date=datetime(2099, 1, 1, tzinfo=UTC),
        usage_limit=1,
    )
    response = s.send(s.api.create_referral_with_http_info, request)
    # Then a code of the campaign's pattern REF-####-####
    assert response.data.code.startswith("REF-")
    assert response.data.campaign_id == REFERRAL_CAMPAIGN
    return response


@row(201)
def create_referrals_for_multiple_advocates(s: Scenario) -> ApiResponse[Any]:
    request = t.NewReferralsForMultipleAdvocates(
        campaign_id=REFERRAL_CAMPAIGN, advocate_profile_integration_ids=["advocate-1", "vip-customer"]
    )
    response = s.send(s.api.create_referrals_for_multiple_advocates_with_http_info, request, silent="no")
    advocates = [referral.advocate_profile_integration_id for referral in response.data.data]
    assert advocates == ["advocate-1", "vip-customer"]
    return response


@row(201)
def create_coupon_reservation(s: Scenario) -> ApiResponse[Any]:
    # When a coupon whose value needs encoding ("SUMMER 20/50%") is reserved
    request = t.CouponReservations(integration_ids=["loyal-2", "advocate-1"])
    response = s.send(s.api.create_coupon_reservation_with_http_info, ENCODED_COUPON, request)
    assert response.data.value == ENCODED_COUPON
    return response


@row(200, "create_coupon_reservation")
def get_reserved_customers(s: Scenario) -> ApiResponse[Any]:
    response = s.send(s.api.get_reserved_customers_with_http_info, ENCODED_COUPON)
    assert sorted(profile.integration_id for profile in response.data.data) == ["advocate-1", "loyal-2"]
    return response


@row(204, "get_reserved_customers")
def delete_coupon_reservation(s: Scenario) -> ApiResponse[Any]:
    request = t.CouponReservations(integration_ids=["loyal-2"])
    response = s.send(s.api.delete_coupon_reservation_with_http_info, ENCODED_COUPON, request)
    # Then only the other customer still holds it
    holders = s.send(s.api.get_reserved_customers_with_http_info, ENCODED_COUPON).data.data
    assert [profile.integration_id for profile in holders] == ["advocate-1"]
    return response


# --- Loyalty writes -----------------------------------------------------------------------------


@row(200)
def generate_loyalty_card(s: Scenario) -> ApiResponse[Any]:
    request = t.GenerateLoyaltyCard(status="active", customer_profile_ids=["loyal-2"])
    response = s.send(s.api.generate_loyalty_card_with_http_info, CARD_PROGRAM, request)
    # Then a card of the program's pattern CARD-####-####, held by loyal-2
    card = response.data
    assert card.identifier.startswith("CARD-")
    assert [profile.integration_id for profile in card.profiles or []] == ["loyal-2"]
    return response


@row(200)
def link_loyalty_card_to_profile(s: Scenario) -> ApiResponse[Any]:
    # When the seeded unregistered card is linked to loyal-2
    request = t.LoyaltyCardRegistration(integration_id="loyal-2")
    response = s.send(s.api.link_loyalty_card_to_profile_with_http_info, CARD_PROGRAM, "CARD-0002", request)
    assert [profile.integration_id for profile in response.data.profiles or []] == ["loyal-2"]
    return response


@row(200, "link_loyalty_card_to_profile")
def unlink_loyalty_card_from_profile(s: Scenario) -> ApiResponse[Any]:
    request = t.LoyaltyCardRegistration(integration_id="loyal-2")
    response = s.send(
        s.api.unlink_loyalty_card_from_profile_with_http_info, CARD_PROGRAM, "CARD-0002", request
    )
    assert response.data.profiles in (None, [])
    return response


@row(200)
def activate_loyalty_points(s: Scenario) -> ApiResponse[Any]:
    # When loyal-1's seeded pending points are activated by their transaction
    request = t.ActivateLoyaltyPoints(transaction_uuids=[PENDING_TRANSACTION])
    response = s.send(s.api.activate_loyalty_points_with_http_info, POINTS_PROGRAM, request)
    assert [entry.amount for entry in response.data.ledger_entries or []] == [20]
    return response


@row(204, "activate_loyalty_points")
def delete_loyalty_transactions_from_ledgers(s: Scenario) -> ApiResponse[Any]:
    # When loyal-1's transactions in the "beauty" subledger are deleted
    request = t.DeleteLoyaltyTransactionsRequest(scope="SelectedSubledgers", subledger_ids=["beauty"])
    response = s.send(
        s.api.delete_loyalty_transactions_from_ledgers_with_http_info, POINTS_PROGRAM, "loyal-1", request
    )
    # Then that subledger is empty
    balances = s.send(
        s.api.get_loyalty_balances_with_http_info, POINTS_PROGRAM, "loyal-1", subledger_id="beauty"
    )
    beauty = (balances.data.subledger_balances or {}).get("beauty")
    assert beauty is not None
    assert beauty.active_points == 0
    return response


# --- Audiences -------------------------------------------------------------------------------


@row(201)
def create_audience_v2(s: Scenario) -> ApiResponse[Any]:
    request = t.NewAudience(
        name="SDK conformance",
        description="Made by the SDK",
        integration="mparticle",
        integration_id="sdk-aud",
    )
    response = s.send(s.api.create_audience_v2_with_http_info, request)
    s.audience_id = response.data.id
    # Then a new audience (the seed has 1 and 2)
    assert s.audience_id > 2
    return response


@row(200, "create_audience_v2")
def update_audience_v2(s: Scenario) -> ApiResponse[Any]:
    request = t.UpdateAudience(name="SDK conformance (renamed)")
    response = s.send(s.api.update_audience_v2_with_http_info, s.audience_id, request)
    assert (response.data.id, response.data.name) == (s.audience_id, "SDK conformance (renamed)")
    return response


@row(204, "update_audience_v2")
def update_customer_profile_audiences(s: Scenario) -> ApiResponse[Any]:
    # When two customers join the new audience and one leaves the VIP one
    request = t.CustomerProfileAudienceRequest(
        data=[
            t.CustomerProfileAudienceRequestItem(
                action="add", profile_integration_id="loyal-2", audience_id=s.audience_id
            ),
            t.CustomerProfileAudienceRequestItem(
                action="add", profile_integration_id="advocate-1", audience_id=s.audience_id
            ),
            t.CustomerProfileAudienceRequestItem(
                action="delete", profile_integration_id="vip-customer", audience_id=VIP_AUDIENCE
            ),
        ]
    )
    return s.send(s.api.update_customer_profile_audiences_with_http_info, request)


@row(204, "update_customer_profile_audiences")
def update_audience_customers_attributes(s: Scenario) -> ApiResponse[Any]:
    return s.send(
        s.api.update_audience_customers_attributes_with_http_info,
        s.audience_id,
        {"segment": CUSTOMER_SEGMENT},
    )


@row(204, "update_audience_customers_attributes")
def delete_audience_memberships_v2(s: Scenario) -> ApiResponse[Any]:
    return s.send(s.api.delete_audience_memberships_v2_with_http_info, s.audience_id)


@row(204, "delete_audience_memberships_v2")
def delete_audience_v2(s: Scenario) -> ApiResponse[Any]:
    return s.send(s.api.delete_audience_v2_with_http_info, s.audience_id)


# --- Catalog, customer data -------------------------------------------------------------------


@row(200, "best_prior_price")
def sync_catalog(s: Scenario) -> ApiResponse[Any]:
    # When two items are added to the catalog at its current version
    actions = [
        {
            "type": "ADD",
            "payload": t.AddItemCatalogAction(sku=sku, price=price, product=t.Product(name=name)).to_dict(),
        }
        for sku, price, name in (("SKU-SOCKS", 4.5, "Socks"), ("SKU-SCARF", 19.9, "Scarf"))
    ]
    response = s.send(
        s.api.sync_catalog_with_http_info, CATALOG, t.CatalogSyncRequest(actions=actions, version=1)
    )
    # Then the catalog's next version
    assert (response.data.id, response.data.version) == (CATALOG, 2)
    return response


@row(204, "update_customer_profiles_v2")
def delete_customer_data(s: Scenario) -> ApiResponse[Any]:
    response = s.send(s.api.delete_customer_data_with_http_info, CUSTOMER)
    # Then the profile is still there, its attributes emptied
    inventory = s.send(s.api.get_customer_inventory_with_http_info, CUSTOMER, profile=True).data
    assert inventory.profile is not None
    assert inventory.profile.attributes == {}
    return response


# --- The suite ------------------------------------------------------------------------------------


def ordered_methods() -> list[str]:
    """The SDK's methods in row order; one without a row last (its test then fails)."""
    methods = sdk_methods()
    return [name for name in ROWS if name in methods] + [name for name in methods if name not in ROWS]


class SummaryPlugin:
    """Prints the table in pytest's terminal summary (after every test and every log line)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario

    def table(self) -> str:
        successes = documented_successes()
        header = ("SDK method", "operation", "documented", "statuses", "deserialized into")
        rows: list[tuple[str, ...]] = []
        for method in ordered_methods():
            calls = self.scenario.calls.get(method, [])
            statuses = Counter(call.status for call in calls)
            rows.append(
                (
                    method,
                    operation_id(method),
                    "/".join(map(str, sorted(successes.get(operation_id(method), set())))) or "?",
                    " ".join(f"{status}x{count}" for status, count in sorted(statuses.items())) or "not run",
                    ", ".join(dict.fromkeys(call.deserialized for call in calls)),
                )
            )
        widths = [max(len(line[i]) for line in (header, *rows)) for i in range(len(header))]

        def line(cells: tuple[str, ...]) -> str:
            return " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)).rstrip()

        return "\n".join([line(header), "-+-".join("-" * width for width in widths), *map(line, rows)])

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.scenario.calls:
            return
        terminalreporter.section("talon_one.IntegrationApi through the local gateway")
        terminalreporter.write_line(
            f"talon-one-sdk {talon_one.__version__}: every call of each method (x count), as the SDK read it"
        )
        for text in self.table().splitlines():
            terminalreporter.write_line(text)


@pytest.fixture(scope="module")
def scenario(request: pytest.FixtureRequest, local_stack: LocalStack) -> Iterator[Scenario]:
    """The SDK configured for the local gateway, the sandbox reset to its seed."""
    assert local_stack.url.startswith("http://127.0.0.1:")
    reset_sandbox(local_stack)
    configuration = talon_one.Configuration(
        host=local_stack.url,
        api_key={"api_key_v1": local_stack.token},
        api_key_prefix={"api_key_v1": "Bearer"},
    )
    with talon_one.ApiClient(configuration) as client:
        running = Scenario(talon_one.IntegrationApi(client), local_stack)
        plugin = SummaryPlugin(running)
        request.config.pluginmanager.register(plugin, "talon-sdk-conformance-summary")
        yield running


@pytest.mark.parametrize(
    "method",
    [
        pytest.param(
            method,
            marks=[pytest.mark.xfail(strict=True, reason=GATEWAY_PROBLEMS[method])]
            if method in GATEWAY_PROBLEMS
            else [],
        )
        for method in ordered_methods()
    ],
)
def test_sdk_method_answers_the_documented_status_and_model(method: str, scenario: Scenario) -> None:
    # Given a row for the SDK method
    assert method in ROWS, f"IntegrationApi.{method} has no conformance row"
    documented = documented_successes()[operation_id(method)]

    # When it runs (after the rows it needs) through the gateway
    response = scenario.run(method)

    # Then the documented status, the answer read into the model the SDK's signature names
    assert response.status_code == ROWS[method].status
    assert response.status_code in documented
    model = sdk_model(method)
    if model is None:
        assert response.status_code == 204
        assert response.data is None
    elif get_origin(model) is list:
        [item] = get_args(model)
        assert isinstance(response.data, list)
        assert response.data
        assert all(isinstance(entry, item) for entry in response.data)
    else:
        assert isinstance(response.data, model)


def test_every_sdk_method_has_a_row_of_an_operation_of_the_spec() -> None:
    # Given the SDK's methods and the operations of today's spec
    methods = sdk_methods()
    operations = documented_successes()

    # Then each method has a row, each row a method, each method an operation
    assert len(methods) >= 35
    assert sorted(set(methods) - set(ROWS)) == []
    assert sorted(set(ROWS) - set(methods)) == []
    assert [method for method in methods if operation_id(method) not in operations] == []


def test_the_sdk_s_stock_best_prior_price_request_is_refused_as_talon_one_refuses_it(
    scenario: Scenario,
) -> None:
    # Given the SDK's own BestPriorPriceRequest: strictEndDate, no timeframeEndDateType
    stock = t.BestPriorPriceRequest(
        skus=["SKU-TSHIRT"],
        timeframe_end_date=datetime(2025, 3, 15, tzinfo=UTC),
        timeframe="90",
        strict_end_date=True,
    )

    # When it is sent through the gateway, and straight to the sandbox (Talon.One's contract)
    with pytest.raises(ApiException) as gateway:
        scenario.api.best_prior_price_with_http_info(stock)
    direct = talon_one.Configuration(
        host=scenario.stack.talon_url,
        api_key={"api_key_v1": DEFAULT_API_KEY},
        api_key_prefix={"api_key_v1": "ApiKey-v1"},
    )
    with talon_one.ApiClient(direct) as client, pytest.raises(ApiException) as talon:
        talon_one.IntegrationApi(client).best_prior_price_with_http_info(stock)

    # Then both answer 400 for the missing timeframeEndDateType (with UnknownRequestFields=refuse,
    # the default, the gateway also names the field today's spec does not define): an SDK drift
    def pointers(error: ApiException) -> set[str]:
        return {entry["source"]["pointer"] for entry in json.loads(error.body or "{}")["errors"]}

    assert (gateway.value.status, talon.value.status) == (400, 400)
    refuses_unknown = scenario.stack.environment.get("UNKNOWN_REQUEST_FIELDS", "refuse") == "refuse"
    assert pointers(gateway.value) == {"/timeframeEndDateType"} | (
        {"/strictEndDate"} if refuses_unknown else set()
    )
    assert pointers(talon.value) == {"/timeframeEndDateType"}
