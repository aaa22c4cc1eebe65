"""Every operation's answers, success and error, validated against its spec's schemas (jsonschema)."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import httpx

from sandbox import Sandbox, Spec

from .conftest import FULL_V2, item


class Step(NamedTuple):
    operation: str
    method: str
    path: str
    body: Any  # JSON body, or None for no body
    status: int  # the expected status
    headers: dict[str, str] | None = None


S = "/v2/customer_sessions"
LP = "/v1/loyalty_programs"
LP2 = "/v2/loyalty_programs"
TSHIRT = {"name": "T-shirt", "sku": "SKU-TSHIRT", "quantity": 2}  # priced by the catalog


def _steps() -> list[Step]:
    """A walk through all 43 operations, in an order that builds state, with errors of each kind."""
    closed_session = {
        "customerSession": {
            "profileId": "loyal-1",
            "couponCodes": ["SUMMER20", "NOPE", "USEDUP1"],
            "referralCode": "REF-ADA-0001",
            "cartItems": [TSHIRT, item(attributes={"x": 1})],
            "additionalCosts": {"shipping": {"price": 3}},
            "loyaltyCards": ["CARD-0001"],
            "state": "closed",
        },
        "responseContent": FULL_V2,
    }
    return [
        # Sessions and their state machine
        Step("updateCustomerSessionV2", "PUT", f"{S}/conf-s1", {"customerSession": {}}, 200),
        Step("updateCustomerSessionV2", "PUT", f"{S}/conf-s2?dry=true", closed_session, 200),
        Step("updateCustomerSessionV2", "PUT", f"{S}/conf-s2", closed_session, 200),
        Step("getCustomerSession", "GET", f"{S}/conf-s2", None, 200),
        Step("getCustomerSession", "GET", f"{S}/conf-missing", None, 400),
        Step(
            "returnCartItems",
            "POST",
            f"{S}/conf-s2/returns",
            {
                "return": {"returnedCartItems": [{"position": 0, "quantity": 1}]},
                "responseContent": ["loyalty"],
            },
            200,
        ),
        Step("returnCartItems", "POST", f"{S}/conf-s1/returns", {"return": {"returnedCartItems": []}}, 400),
        Step(
            "updateCustomerSessionV2", "PUT", f"{S}/conf-s2", {"customerSession": {"state": "cancelled"}}, 200
        ),
        Step("updateCustomerSessionV2", "PUT", f"{S}/conf-s2", {"customerSession": {"state": "open"}}, 400),
        Step("updateCustomerSessionV2", "PUT", f"{S}/conf-s3", {"customerSession": {"state": "closed"}}, 200),
        Step("reopenCustomerSession", "PUT", f"{S}/conf-s3/reopen", None, 200),
        Step("reopenCustomerSession", "PUT", f"{S}/conf-s3/reopen", None, 400),
        # Profiles
        Step(
            "updateCustomerProfileV2",
            "PUT",
            "/v2/customer_profiles/conf-p?runRuleEngine=true",
            {
                "attributes": {"a": 1},
                "responseContent": ["customerProfile", "loyalty", "achievements", "event"],
            },
            200,
        ),
        Step("updateCustomerProfileV2", "PUT", "/v2/customer_profiles/conf-p?runRuleEngine=yes", {}, 400),
        Step(
            "updateCustomerProfilesV2",
            "PUT",
            "/v2/customer_profiles?silent=no",
            {"customerProfiles": [{"integrationId": "conf-b1", "attributes": {"x": 1}}]},
            200,
        ),
        Step("updateCustomerProfilesV2", "PUT", "/v2/customer_profiles", {"customerProfiles": []}, 204),
        Step("updateCustomerProfilesV2", "PUT", "/v2/customer_profiles", {"customerProfiles": {}}, 400),
        # Audiences
        Step("createAudienceV2", "POST", "/v2/audiences", {"name": "Conf", "integrationId": "conf-a"}, 201),
        Step("createAudienceV2", "POST", "/v2/audiences", {"name": "Again", "integrationId": "conf-a"}, 409),
        Step("createAudienceV2", "POST", "/v2/audiences", {"description": "no name"}, 400),
        Step("updateAudienceV2", "PUT", "/v2/audiences/3", {"name": "Conf renamed"}, 200),
        Step("updateAudienceV2", "PUT", "/v2/audiences/999", {"name": "x"}, 404),
        Step(
            "updateCustomerProfileAudiences",
            "POST",
            "/v2/customer_audiences",
            {"data": [{"action": "add", "profileIntegrationId": "conf-p", "audienceId": 3}]},
            204,
        ),
        Step(
            "updateCustomerProfileAudiences",
            "POST",
            "/v2/customer_audiences",
            {"data": [{"action": "add", "profileIntegrationId": "conf-p", "audienceId": 999}]},
            404,
        ),
        Step(
            "updateAudienceCustomersAttributes", "PUT", "/v2/audience_customers/3/attributes", {"t": 1}, 204
        ),
        Step("updateAudienceCustomersAttributes", "PUT", "/v2/audience_customers/999/attributes", {}, 404),
        Step("deleteAudienceMembershipsV2", "DELETE", "/v2/audiences/3/memberships", None, 204),
        Step("deleteAudienceMembershipsV2", "DELETE", "/v2/audiences/999/memberships", None, 404),
        Step("deleteAudienceV2", "DELETE", "/v2/audiences/3", None, 204),
        Step("deleteAudienceV2", "DELETE", "/v2/audiences/3", None, 404),
        Step("deleteAudienceV2", "DELETE", "/v2/audiences/three", None, 400),
        # Loyalty
        Step("joinLoyaltyProgram", "POST", f"{LP}/1/profile/conf-p/join", None, 200),
        Step("joinLoyaltyProgram", "POST", f"{LP}/1/profile/conf-p/join", None, 400),
        Step("getLoyaltyBalances", "GET", f"{LP}/1/profile/loyal-1/balances?includeTiers=true", None, 200),
        Step("getLoyaltyBalances", "GET", f"{LP}/99/profile/loyal-1/balances", None, 404),
        Step(
            "getLoyaltyProgramProfileTransactions", "GET", f"{LP}/1/profile/loyal-1/transactions", None, 200
        ),
        Step("getLoyaltyProgramProfileTransactions", "GET", f"{LP}/1/profile/nobody/transactions", None, 404),
        Step(
            "getLoyaltyProgramProfilePoints",
            "GET",
            f"{LP}/1/profile/loyal-1/points?status=pending",
            None,
            200,
        ),
        Step(
            "getLoyaltyProgramProfilePoints", "GET", f"{LP}/1/profile/loyal-1/points?status=gone", None, 400
        ),
        Step("activateLoyaltyPoints", "POST", f"{LP}/1/activate_points", {"sessionId": "conf-none"}, 404),
        Step(
            "activateLoyaltyPoints",
            "POST",
            f"{LP}/1/activate_points",
            {"transactionUUIDs": ["00000000-0000-4000-8000-000000000002"]},
            200,
        ),
        Step("activateLoyaltyPoints", "POST", f"{LP}/1/activate_points", {"transactionUUIDs": ["nope"]}, 400),
        Step(
            "deleteLoyaltyTransactionsFromLedgers",
            "POST",
            f"{LP}/1/profile/loyal-1/delete_transactions",
            {"scope": "SelectedSubledgers", "subledgerIds": ["beauty"]},
            204,
        ),
        Step(
            "deleteLoyaltyTransactionsFromLedgers",
            "POST",
            f"{LP}/1/profile/loyal-1/delete_transactions",
            {"scope": "Some"},
            400,
        ),
        Step("getLoyaltyCardBalances", "GET", f"{LP}/2/cards/CARD-0001/balances", None, 200),
        Step("getLoyaltyCardBalances", "GET", f"{LP}/2/cards/CARD-9999/balances", None, 404),
        Step("getLoyaltyCardTransactions", "GET", f"{LP}/2/cards/CARD-0001/transactions", None, 200),
        Step(
            "getLoyaltyCardTransactions",
            "GET",
            f"{LP}/2/cards/CARD-0001/transactions?loyaltyTransactionType=gift",
            None,
            400,
        ),
        Step("getLoyaltyCardPoints", "GET", f"{LP}/2/cards/CARD-0001/points", None, 200),
        Step("getLoyaltyCardPoints", "GET", f"{LP}/2/cards/ABC/points", None, 400),
        Step("generateLoyaltyCard", "POST", f"{LP}/2/cards", {"customerProfileIds": ["loyal-2"]}, 200),
        Step("generateLoyaltyCard", "POST", f"{LP}/1/cards", {}, 400),
        Step(
            "linkLoyaltyCardToProfile",
            "POST",
            f"{LP2}/2/cards/CARD-0002/link_profile",
            {"integrationId": "loyal-2"},
            200,
        ),
        Step(
            "linkLoyaltyCardToProfile",
            "POST",
            f"{LP2}/2/cards/CARD-9999/link_profile",
            {"integrationId": "loyal-2"},
            404,
        ),
        Step(
            "unlinkLoyaltyCardFromProfile",
            "POST",
            f"{LP2}/2/cards/CARD-0002/unlink_profile",
            {"integrationId": "loyal-2"},
            200,
        ),
        Step(
            "unlinkLoyaltyCardFromProfile",
            "POST",
            f"{LP2}/2/cards/CARD-0002/unlink_profile",
            {"integrationId": "loyal-2"},
            404,
        ),
        # Events
        Step("trackEventV2", "POST", "/v2/events", {"profileId": "conf-p", "type": "viewed_promo"}, 204),
        Step(
            "trackEventV2",
            "POST",
            "/v2/events?silent=no",
            {"profileId": "conf-p", "type": "viewed_promo", "responseContent": ["event", "customerProfile"]},
            200,
        ),
        Step("trackEventV2", "POST", "/v2/events", {"type": "viewed_promo"}, 400),
        Step(
            "trackEventV3",
            "POST",
            "/v3/events",
            {
                "profileId": "conf-p",
                "type": "viewed_promo",
                "integrationId": "conf-e1",
                "responseContent": ["advancedEvent", "customerProfile", "triggeredCampaigns", "loyalty"],
            },
            200,
        ),
        Step(
            "trackEventV3",
            "POST",
            "/v3/events",
            {"profileId": "p", "type": "t", "integrationId": "conf-e1"},
            409,
        ),
        Step("trackEventV3", "POST", "/v3/events", {"type": "t", "integrationId": "conf-e2"}, 400),
        Step("getEventV3", "GET", "/v3/events/conf-e1", None, 200),
        Step("getEventV3", "GET", "/v3/events/conf-missing", None, 404),
        # Coupons and referrals
        Step(
            "createCouponReservation",
            "POST",
            "/v1/coupon_reservations/SUMMER20",
            {"integrationIDs": ["conf-p"]},
            201,
        ),
        Step(
            "createCouponReservation",
            "POST",
            "/v1/coupon_reservations/NOPE-NOPE",
            {"integrationIDs": ["p"]},
            404,
        ),
        Step("getReservedCustomers", "GET", "/v1/coupon_reservations/customerprofiles/SUMMER20", None, 200),
        Step("getReservedCustomers", "GET", "/v1/coupon_reservations/customerprofiles/NOPE-NOPE", None, 404),
        Step(
            "deleteCouponReservation",
            "DELETE",
            "/v1/coupon_reservations/SUMMER20",
            {"integrationIDs": ["conf-p"]},
            204,
        ),
        Step(
            "deleteCouponReservation",
            "DELETE",
            "/v1/coupon_reservations/NOPE-NOPE",
            {"integrationIDs": []},
            404,
        ),
        Step(
            "createReferral",
            "POST",
            "/v1/referrals",
            {"campaignId": 5, "advocateProfileIntegrationId": "conf-p"},
            201,
        ),
        Step(
            "createReferral",
            "POST",
            "/v1/referrals",
            {"campaignId": 1, "advocateProfileIntegrationId": "x"},
            400,
        ),
        Step(
            "createReferralsForMultipleAdvocates",
            "POST",
            "/v1/referrals_for_multiple_advocates?silent=no",
            {"campaignId": 5, "advocateProfileIntegrationIds": ["conf-a1", "conf-a2"]},
            201,
        ),
        Step(
            "createReferralsForMultipleAdvocates",
            "POST",
            "/v1/referrals_for_multiple_advocates",
            {"campaignId": 5, "advocateProfileIntegrationIds": ["conf-a3"]},
            204,
        ),
        Step(
            "createReferralsForMultipleAdvocates",
            "POST",
            "/v1/referrals_for_multiple_advocates",
            {"campaignId": 5, "advocateProfileIntegrationIds": []},
            400,
        ),
        # Inventory, achievements, campaigns, catalog, prices
        Step(
            "getCustomerInventory",
            "GET",
            "/v1/customer_profiles/loyal-1/inventory?profile=true&referrals=true&coupons=true"
            "&loyalty=true&giveaways=true&achievements=true",
            None,
            200,
        ),
        Step("getCustomerInventory", "GET", "/v1/customer_profiles/nobody/inventory", None, 404),
        Step("getCustomerAchievements", "GET", "/v1/customer_profiles/loyal-1/achievements", None, 200),
        Step("getCustomerAchievements", "GET", "/v1/customer_profiles/nobody/achievements", None, 404),
        Step(
            "getCustomerAchievementHistory", "GET", "/v1/customer_profiles/loyal-1/achievements/2", None, 200
        ),
        Step(
            "getCustomerAchievementHistory", "GET", "/v1/customer_profiles/loyal-1/achievements/99", None, 404
        ),
        Step(
            "getCustomerAchievementHistory",
            "GET",
            "/v1/customer_profiles/loyal-1/achievements/two",
            None,
            400,
        ),
        Step("integrationGetAllCampaigns", "GET", "/v1/integration/campaigns?pageSize=2", None, 200),
        Step("integrationGetAllCampaigns", "GET", "/v1/integration/campaigns?pageSize=0", None, 400),
        Step(
            "syncCatalog",
            "PUT",
            "/v1/catalogs/1/sync",
            {"actions": [{"type": "ADD", "payload": {"sku": "SKU-CONF", "price": 5}}]},
            200,
        ),
        Step(
            "syncCatalog", "PUT", "/v1/catalogs/9/sync", {"actions": [{"type": "REMOVE", "payload": {}}]}, 404
        ),
        Step(
            "bestPriorPrice",
            "POST",
            "/v1/best_prior_price",
            {
                "skus": ["SKU-TSHIRT", "SKU-NONE"],
                "timeframeEndDate": "2025-03-15T00:00:00Z",
                "timeframe": "90",
                "timeframeEndDateType": "strict",
            },
            200,
        ),
        Step("bestPriorPrice", "POST", "/v1/best_prior_price", {"skus": []}, 400),
        Step("deleteCustomerData", "DELETE", "/v1/customer_data/conf-p", None, 204),
        Step("deleteCustomerData", "DELETE", "/v1/customer_data/nobody", None, 404),
        # The legacy operations, 2020 schemas
        Step("updateCustomerProfile", "PUT", "/v1/customer_profiles/conf-l", {"attributes": {"a": 1}}, 200),
        Step("updateCustomerProfile", "PUT", "/v1/customer_profiles/conf-l", [1], 400),
        Step(
            "updateCustomerSession",
            "PUT",
            "/v1/customer_sessions/conf-l1",
            {"profileId": "conf-l", "coupon": "VIP-ONLY", "cartItems": [item()], "total": 10},
            200,
        ),
        Step("updateCustomerSession", "PUT", "/v1/customer_sessions/conf-l1", {"state": "paid"}, 400),
        Step(
            "trackEvent",
            "POST",
            "/v1/events",
            {"type": "viewed_promo", "attributes": {}, "sessionId": "conf-l2"},
            200,
        ),
        Step("trackEvent", "POST", "/v1/events", {"type": ""}, 400),
        Step("getReservedCoupons", "GET", "/v1/coupon_reservations/coupons/vip-customer", None, 200),
        Step(
            "updateCustomerSession",
            "PUT",
            "/v1/customer_sessions/conf-l1",
            {"state": "partially_returned"},
            400,
        ),
        Step(
            "getReservedCoupons",
            "GET",
            "/v1/coupon_reservations/coupons/vip-customer",
            None,
            401,
            {"Authorization": "ApiKey-v1 wrong"},
        ),
        # An unauthenticated call to one of today's operations
        Step("getCustomerSession", "GET", f"{S}/conf-s1", None, 401, {"Authorization": "Bearer x"}),
    ]


def test_every_operation_answers_per_its_schema(
    raw_client: httpx.Client, spec: Spec, sandbox: Sandbox
) -> None:
    # Given a walk through all 43 operations, successes and errors
    problems: list[str] = []
    outcomes: dict[str, set[bool]] = {}
    for step in _steps():
        # When calling each
        kwargs: dict[str, Any] = {} if step.body is None else {"json": step.body}
        response = raw_client.request(step.method, step.path, headers=step.headers, **kwargs)
        # Then the status is the expected one and the body matches the spec's schema for it
        if response.status_code != step.status:
            problems.append(
                f"{step.operation} {step.path}: {response.status_code} != {step.status}: {response.text}"
            )
        payload = json.loads(response.content) if response.content else None
        where = f"{step.operation} {step.path} {response.status_code}"
        problems.extend(
            f"{where}: {p}" for p in spec.response_errors(step.operation, response.status_code, payload)
        )
        outcomes.setdefault(step.operation, set()).add(200 <= response.status_code < 300)
    assert problems == []
    # And every operation answered at least one success and one error
    assert set(outcomes) == set(spec.operations)
    assert [op for op, kinds in outcomes.items() if kinds != {True, False}] == []


def test_legacy_operation_errors_match_the_error_shape(anon_client: httpx.Client, spec: Spec) -> None:
    # getReservedCoupons has no input to get wrong but its credentials
    response = anon_client.get("/v1/coupon_reservations/coupons/x")
    assert response.status_code == 401
    assert spec.response_errors("getReservedCoupons", 401, response.json()) == []


def test_undocumented_error_statuses_still_have_the_error_shape(
    raw_client: httpx.Client, anon_client: httpx.Client, spec: Spec
) -> None:
    # getEventV3 documents no 401 and bestPriorPrice no 400: their errors still have Talon.One's shape
    unauthorized = anon_client.get("/v3/events/x")
    invalid = raw_client.post("/v1/best_prior_price", json={})
    assert (unauthorized.status_code, invalid.status_code) == (401, 400)
    assert spec.response_errors("getEventV3", 401, unauthorized.json()) == []
    assert spec.response_errors("bestPriorPrice", 400, invalid.json()) == []


def test_schema_check_catches_a_broken_response(spec: Spec) -> None:
    # The validator used above is not vacuous: a response missing required parts fails
    assert spec.response_errors("updateCustomerSessionV2", 200, {"effects": []})
    assert spec.response_errors("createCouponReservation", 201, {"value": "ab"})
    assert spec.response_errors("createCouponReservation", 200, {"id": 1})  # undocumented success
    assert spec.response_errors("deleteCustomerData", 204, {"x": 1})
    assert spec.response_errors("trackEvent", 400, {"message": "m"})
    session = {"integrationId": "s", "created": "2020-01-01T00:00:00Z", "applicationId": 1, "state": "open"}
    # A 2020-shaped session (no id, updateCount, updated) is not today's CustomerSessionV2
    assert spec.response_errors("getCustomerSession", 200, {"customerSession": session})
    assert spec.response_errors("joinLoyaltyProgram", 200, {"x": 1})  # documented without a body


def test_state_snapshot_is_in_wire_format(client: httpx.Client, sandbox: Sandbox, spec: Spec) -> None:
    # Given some state: a closed session with a coupon, loyalty points, a referral and a v3 event
    client.put(
        "/v2/customer_sessions/snap",
        json={
            "customerSession": {
                "profileId": "loyal-1",
                "couponCodes": ["SUMMER20"],
                "cartItems": [item()],
                "state": "closed",
            }
        },
    )
    client.post("/v1/referrals", json={"campaignId": 5, "advocateProfileIntegrationId": "snap-p"})
    client.post("/v3/events", json={"profileId": "snap-p", "type": "t", "integrationId": "snap-e"})
    state = sandbox.state
    # Then every entity of the snapshot matches today's schema
    samples = [
        *(("Coupon", c) for c in state.coupons.values()),
        *(("Referral", r) for r in state.referrals.values()),
        *(("CustomerProfile", p) for p in state.profiles.values()),
        *(("Event", e) for e in state.events),
        *(("Campaign", c) for c in state.campaigns.values()),
        *(("CustomerSessionV2", s) for s in state.sessions.values()),
        *(("LoyaltyCard", c) for c in state.loyalty["cards"].values()),
        *(("Audience", a) for a in state.audiences.values()),
        *(("Catalog", c) for c in state.catalogs.values()),
        *(("AchievementStatusEntry", a) for a in state.achievements.values()),
        *(("EventV3", e) for e in state.v3_events.values()),
    ]
    invalid = [(name, spec.field_errors(name, sample)) for name, sample in samples]
    assert [entry for entry in invalid if entry[1]] == []
