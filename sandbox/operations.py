"""The 43 operations: today's 39 and the 4 legacy ones, each turning a validated call into an answer.

Handlers run under the app's lock and return ``(status, payload)``; ``payload`` None means an
empty body. Statuses are the spec's: 201 for creates, 204 where documented (``silent``), 200
otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.errors import bad_parameter, bad_request, not_found
from sandbox.loyalty import Balance, LedgerEntry, LoyaltyBook, LoyaltyCard, LoyaltyProgram
from sandbox.model import Event, Profile, Session, iso
from sandbox.rules import Evaluation
from sandbox.store import SessionOutcome, SessionPatch, Store

Answer = tuple[int, Any]


@dataclass(frozen=True, slots=True)
class Call:
    """A validated request: typed path and query parameters, the pruned body, the time."""

    path: Mapping[str, Any]
    query: Mapping[str, Any]
    body: Any
    now: datetime
    headers: tuple[tuple[str, str], ...] = ()


Handler = Callable[[Store, Call], Answer]
HANDLERS: dict[str, Handler] = {}


def operation(operation_id: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[operation_id] = handler
        return handler

    return register


def _dry(call: Call) -> bool:
    return bool(call.query.get("dry", False))


def _evaluable(call: Call, ids: Any) -> list[int] | None:
    # "When using the dry query parameter, use this property to list the campaigns to be evaluated."
    return list(ids) if _dry(call) and ids is not None else None


def _force_needs_dry(call: Call) -> None:
    if call.query.get("forceCompleteEvaluation") and not _dry(call):
        raise bad_parameter("forceCompleteEvaluation", "query", "forceCompleteEvaluation requires dry=true")


def _silent(call: Call) -> bool:
    # Documented values are yes (default: 204) and no (200 with a body); anything else is "yes".
    return bool(call.query.get("silent", "yes") != "no")


def _base(effects: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"effects": list(effects), "createdCoupons": [], "createdReferrals": []}


def _content(  # noqa: PLR0912 - one branch per responseContent value
    store: Store,
    wanted: Iterable[str],
    *,
    now: datetime,
    profile: Profile | None,
    evaluation: Evaluation | None = None,
    event: Event | None = None,
    session: Session | None = None,
    tentative: bool = False,
) -> dict[str, Any]:
    """The parts of IntegrationResponse a responseContent list asks for."""
    out: dict[str, Any] = {}
    ctx = store.ctx
    profile_id = profile.integration_id if profile is not None else ""
    for part in dict.fromkeys(wanted):
        if part == "customerSession" and session is not None:
            out[part] = session.to_v2_json(ctx)
        elif part == "customerProfile" and profile is not None:
            out[part] = store.profile_json(profile)
        elif part == "coupons" and session is not None:
            codes = dict.fromkeys(session.coupon_codes)
            out[part] = [store.coupons[c].to_json(profile_id) for c in codes if c in store.coupons]
        elif part == "triggeredCampaigns":
            out[part] = [c.to_json(ctx, now) for c in (evaluation.triggered if evaluation else [])]
        elif part == "referral" and session is not None and session.referral_code in store.referrals:
            out[part] = store.referrals[session.referral_code].to_json(inventory=True)
        elif part == "loyalty":
            cards = [
                card
                for identifier in (session.loyalty_cards if session else [])
                for (program_id, card_id), card in store.loyalty.cards.items()
                if card_id == identifier and program_id in store.loyalty.programs
            ]
            planned = evaluation.loyalty if evaluation is not None and tentative else []
            out[part] = store.loyalty_json(profile_id, now, cards=cards, tentative=planned)
        elif part == "event" and event is not None:
            out[part] = event.to_json(ctx)
        elif part == "advancedEvent" and event is not None:
            out[part] = event.to_v3_json(ctx)
        elif part in ("awardedGiveaways", "campaignEligibility"):
            out[part] = []  # no seeded campaign awards giveaways or reports eligibility
        elif part == "ruleFailureReasons":
            out[part] = list(evaluation.rule_failures) if evaluation else []
        elif part == "previousReturns" and session is not None:
            out[part] = [r.to_json(ctx) for r in session.returns]
        elif part == "achievements" and profile is not None:
            out[part] = [
                a.customer_json(profile_id, now) for a in store.achievements.values() if a.is_open(now)
            ]
    return out


def _page(items: list[Any], call: Call, default_size: int) -> tuple[list[Any], bool]:
    skip = max(call.query.get("skip", 0), 0)
    size = call.query.get("pageSize", default_size)
    return items[skip : skip + size], len(items) > skip + size


def _subledgers(call: Call) -> list[str] | None:
    value = call.query.get("subledgerId")
    if value is None:
        return None
    return value if isinstance(value, list) else [value]


# -- customer sessions -----------------------------------------------------------------------


@operation("getCustomerSession")
def get_customer_session(store: Store, call: Call) -> Answer:
    session = store.get_session(call.path["customerSessionId"])
    return 200, {"customerSession": session.to_v2_json(store.ctx), "effects": list(session.effects)}


@operation("updateCustomerSessionV2")
def update_customer_session_v2(store: Store, call: Call) -> Answer:
    requested = call.query.get("now")
    if requested is not None:
        # "It can only be used if the dry parameter is true" and "can only be a date in the future".
        if not _dry(call):
            raise bad_parameter("now", "query", "'now' can only be used with dry=true")
        if requested <= call.now:
            raise bad_parameter("now", "query", "'now' must be a date in the future")
    now = requested or call.now
    session_body = call.body["customerSession"]
    outcome = store.update_session(
        call.path["customerSessionId"],
        SessionPatch.from_v2(session_body),
        now,
        dry=_dry(call),
        evaluable=_evaluable(call, session_body.get("evaluableCampaignIds")),
    )
    return 200, _session_state(store, outcome, call.body.get("responseContent", []), now)


def _session_state(
    store: Store, outcome: SessionOutcome, wanted: Iterable[str], now: datetime
) -> dict[str, Any]:
    out = _base(outcome.event.effects)
    out.update(
        _content(
            store,
            wanted,
            now=now,
            profile=outcome.profile,
            evaluation=outcome.evaluation,
            event=outcome.event,
            session=outcome.session,
            tentative=not outcome.committed or outcome.session.state == "open",
        )
    )
    return out


@operation("returnCartItems")
def return_cart_items(store: Store, call: Call) -> Answer:
    outcome = store.return_items(
        call.path["customerSessionId"], call.body["return"]["returnedCartItems"], call.now, dry=_dry(call)
    )
    out = _base(outcome.effects)
    out["return"] = outcome.created.to_json(store.ctx)
    out.update(
        _content(
            store,
            call.body.get("responseContent", []),
            now=call.now,
            profile=outcome.profile,
            evaluation=Evaluation(effects=outcome.effects),
            event=outcome.event,
            session=outcome.session,
        )
    )
    return 200, out


@operation("reopenCustomerSession")
def reopen_customer_session(store: Store, call: Call) -> Answer:
    _, _, effects = store.reopen(call.path["customerSessionId"], call.now)
    return 200, {"effects": effects}


@operation("updateCustomerSession")
def update_customer_session(store: Store, call: Call) -> Answer:
    """Legacy v1: the 2020 IntegrationState."""
    outcome = store.update_session(call.path["customerSessionId"], SessionPatch.from_v1(call.body), call.now)
    profile = outcome.profile
    return 200, {
        "session": outcome.session.to_v1_json(store.ctx),
        "profile": profile.to_legacy_json(store.ctx) if profile else store.anonymous_profile_json(call.now),
        "event": outcome.event.to_legacy_json(store.ctx),
    }


# -- customer profiles -----------------------------------------------------------------------


@operation("updateCustomerProfileV2")
def update_customer_profile_v2(store: Store, call: Call) -> Answer:
    run_rule_engine = call.query.get("runRuleEngine", False)
    wanted = call.body.get("responseContent")
    if not run_rule_engine:
        if _dry(call):
            raise bad_parameter("dry", "query", "dry only works with runRuleEngine=true")
        if wanted:
            raise bad_request("responseContent needs runRuleEngine=true", "/responseContent")
    profile, event = store.update_profile_v2(call.path["integrationId"], call.body, call.now, dry=_dry(call))
    out = _base(event.effects)
    out.update(
        _content(store, wanted or [], now=call.now, profile=profile, evaluation=Evaluation(), event=event)
    )
    return 200, out


@operation("updateCustomerProfilesV2")
def update_customer_profiles_v2(store: Store, call: Call) -> Answer:
    profiles = store.update_profiles(call.body.get("customerProfiles", []), call.now)
    if _silent(call):
        return 204, None
    return 200, {"integrationStates": [{"customerProfile": store.profile_json(p)} for p in profiles]}


@operation("updateCustomerProfile")
def update_customer_profile(store: Store, call: Call) -> Answer:
    """Legacy v1: no session, so the required `session` holds Go zero values."""
    profile, event = store.update_profile(call.path["integrationId"], call.body.get("attributes"), call.now)
    return 200, {
        "session": store.no_session_json(profile.integration_id),
        "profile": profile.to_legacy_json(store.ctx),
        "event": event.to_legacy_json(store.ctx),
    }


@operation("deleteCustomerData")
def delete_customer_data(store: Store, call: Call) -> Answer:
    store.delete_customer_data(call.path["integrationId"])
    return 204, None


@operation("getCustomerInventory")
def get_customer_inventory(store: Store, call: Call) -> Answer:
    return 200, store.inventory(call.path["integrationId"], call.query, call.now)


# -- events ----------------------------------------------------------------------------------


@operation("trackEventV2")
def track_event_v2(store: Store, call: Call) -> Answer:
    _force_needs_dry(call)
    profile, event, evaluation = store.track_event_v2(
        call.body, call.now, dry=_dry(call), evaluable=_evaluable(call, call.body.get("evaluableCampaignIds"))
    )
    if _silent(call):
        return 204, None
    out = _base(event.effects)
    out.update(
        _content(
            store,
            call.body.get("responseContent", []),
            now=call.now,
            profile=profile,
            evaluation=evaluation,
            event=event,
        )
    )
    return 200, out


@operation("trackEventV3")
def track_event_v3(store: Store, call: Call) -> Answer:
    # trackEventV3 documents 200 only: `silent` changes nothing here.
    _force_needs_dry(call)
    profile, event, evaluation = store.track_event_v3(
        call.body, call.now, dry=_dry(call), evaluable=_evaluable(call, call.body.get("evaluableCampaignIds"))
    )
    out = _base(event.effects)
    out.update(
        _content(
            store,
            call.body.get("responseContent", []),
            now=call.now,
            profile=profile,
            evaluation=evaluation,
            event=event,
        )
    )
    return 200, out


@operation("getEventV3")
def get_event_v3(store: Store, call: Call) -> Answer:
    return 200, store.get_event_v3(call.path["integrationId"]).to_v3_json(store.ctx)


@operation("trackEvent")
def track_event(store: Store, call: Call) -> Answer:
    """Legacy v1 event, tied to a session."""
    body = call.body
    session, profile, event = store.track_event(
        body["sessionId"], body.get("profileId"), body["type"], body["attributes"], call.now
    )
    return 200, {
        "session": session.to_v1_json(store.ctx),
        "profile": profile.to_legacy_json(store.ctx) if profile else store.anonymous_profile_json(call.now),
        "event": event.to_legacy_json(store.ctx),
    }


# -- coupons and referrals -------------------------------------------------------------------


@operation("createCouponReservation")
def create_coupon_reservation(store: Store, call: Call) -> Answer:
    coupon = store.reserve(call.path["couponValue"], call.body["integrationIDs"], call.now)
    return 201, coupon.to_json()


@operation("deleteCouponReservation")
def delete_coupon_reservation(store: Store, call: Call) -> Answer:
    store.unreserve(call.path["couponValue"], call.body["integrationIDs"])
    return 204, None


@operation("getReservedCustomers")
def get_reserved_customers(store: Store, call: Call) -> Answer:
    profiles = store.reserved_customers(call.path["couponValue"])
    return 200, {"totalResultSize": len(profiles), "data": profiles}


@operation("getReservedCoupons")
def get_reserved_coupons(store: Store, call: Call) -> Answer:
    """Legacy: the 2020 Coupon (``reservation: false`` meaning holders only)."""
    coupons = store.reserved_coupons(call.path["integrationId"], call.now)
    return 200, {"totalResultSize": len(coupons), "data": [c.to_legacy_json() for c in coupons]}


@operation("createReferral")
def create_referral(store: Store, call: Call) -> Answer:
    return 201, store.create_referral(call.body, call.now).to_json()


@operation("createReferralsForMultipleAdvocates")
def create_referrals_for_multiple_advocates(store: Store, call: Call) -> Answer:
    referrals = store.create_referrals(call.body, call.now)
    if _silent(call):
        return 204, None
    return 201, {"totalResultSize": len(referrals), "data": [r.to_json() for r in referrals]}


# -- audiences -------------------------------------------------------------------------------


@operation("createAudienceV2")
def create_audience_v2(store: Store, call: Call) -> Answer:
    return 201, store.audiences.create(call.body, call.now).to_json(store.ctx)


@operation("updateAudienceV2")
def update_audience_v2(store: Store, call: Call) -> Answer:
    audience = store.audiences.get(call.path["audienceId"])
    audience.name = call.body["name"]
    if "subscribedApplicationsIds" in call.body:
        audience.subscribed_application_ids = list(call.body["subscribedApplicationsIds"])
    audience.last_update = call.now
    return 200, audience.to_json(store.ctx)


@operation("deleteAudienceV2")
def delete_audience_v2(store: Store, call: Call) -> Answer:
    audience = store.audiences.get(call.path["audienceId"])
    del store.audiences.audiences[audience.id]
    return 204, None


@operation("deleteAudienceMembershipsV2")
def delete_audience_memberships_v2(store: Store, call: Call) -> Answer:
    store.audiences.get(call.path["audienceId"]).members.clear()
    return 204, None


@operation("updateCustomerProfileAudiences")
def update_customer_profile_audiences(store: Store, call: Call) -> Answer:
    items = call.body.get("data", [])
    for n, item in enumerate(items):
        store.audiences.get(item["audienceId"])  # all or nothing: every audience must exist
        if not item["profileIntegrationId"]:
            raise bad_request("'profileIntegrationId' must not be empty", f"/data/{n}/profileIntegrationId")
    for item in items:
        audience = store.audiences.audiences[item["audienceId"]]
        profile_id = item["profileIntegrationId"]
        if item["action"] == "add":
            if profile_id not in store.profiles:
                store._touch_profile(profile_id, call.now)
            audience.members.setdefault(profile_id, call.now)
        else:
            audience.members.pop(profile_id, None)
    return 204, None


@operation("updateAudienceCustomersAttributes")
def update_audience_customers_attributes(store: Store, call: Call) -> Answer:
    audience = store.audiences.get(call.path["audienceId"])
    for profile_id in audience.members:
        profile = store.profiles.get(profile_id)
        if profile is not None:
            profile.attributes = {**profile.attributes, **call.body}
    return 204, None


# -- loyalty ---------------------------------------------------------------------------------


def _balances(
    program: LoyaltyProgram, entries: list[LedgerEntry], at: datetime, call: Call
) -> dict[str, Any]:
    balances = LoyaltyBook.balances(entries, at)
    for name in program.subledgers:
        balances.setdefault(name, Balance())
    main = balances.pop("")

    def render(balance: Balance) -> dict[str, Any]:
        out: dict[str, Any] = balance.to_json()
        if call.query.get("includeTiers"):
            out.update(program.tier_info(balance.active))
        if call.query.get("includeProjectedTier"):
            tier = program.tier_info(balance.active).get("currentTier")
            projected: dict[str, Any] = {"projectedActivePoints": out["activePoints"]}
            if tier is not None:
                projected["projectedTierName"] = tier["name"]
            out["projectedTier"] = projected
        return out

    wanted = _subledgers(call)
    subs = {k: render(v) for k, v in balances.items() if wanted is None or k in wanted}
    return {"balance": render(main), "subledgerBalances": subs}


@operation("getLoyaltyBalances")
def get_loyalty_balances(store: Store, call: Call) -> Answer:
    program, entries = store.profile_ledger(call.path["loyaltyProgramId"], call.path["integrationId"])
    return 200, _balances(program, entries, call.query.get("endDate") or call.now, call)


@operation("getLoyaltyCardBalances")
def get_loyalty_card_balances(store: Store, call: Call) -> Answer:
    card = store.loyalty.card(call.path["loyaltyProgramId"], call.path["loyaltyCardId"])
    program = store.loyalty.programs[card.program_id]
    entries = store.loyalty.ledger(program.id, card=card.identifier)
    out = _balances(program, entries, call.query.get("endDate") or call.now, call)
    out["profiles"] = [{"integrationId": k, "timestamp": iso(v)} for k, v in card.profiles.items()]
    return 200, out


def _transactions(entries: list[LedgerEntry], call: Call) -> Answer:
    """Newest first, filtered by the documented query parameters, then one page."""
    query = call.query
    wanted = _subledgers(call)
    found = [
        e
        for e in entries
        if (wanted is None or e.subledger_id in wanted)
        and ("loyaltyTransactionType" not in query or e.kind == query["loyaltyTransactionType"])
        and ("startDate" not in query or e.created >= query["startDate"])
        and ("endDate" not in query or e.created <= query["endDate"])
        and ("customerSessionIDs" not in query or e.session_id in query["customerSessionIDs"])
        and ("transactionUUIDs" not in query or e.uuid in query["transactionUUIDs"])
        and (
            "awaitsActivation" not in query
            or (e.type == "addition" and e.awaits_activation) == query["awaitsActivation"]
        )
    ]
    found.sort(key=lambda e: (e.created, e.id), reverse=True)
    page, more = _page(found, call, 50)
    return 200, {"hasMore": more, "data": [e.transaction_json() for e in page]}


@operation("getLoyaltyProgramProfileTransactions")
def get_loyalty_program_profile_transactions(store: Store, call: Call) -> Answer:
    _, entries = store.profile_ledger(call.path["loyaltyProgramId"], call.path["integrationId"])
    return _transactions(entries, call)


@operation("getLoyaltyCardTransactions")
def get_loyalty_card_transactions(store: Store, call: Call) -> Answer:
    card = store.loyalty.card(call.path["loyaltyProgramId"], call.path["loyaltyCardId"])
    return _transactions(store.loyalty.ledger(card.program_id, card=card.identifier), call)


def _points(entries: list[LedgerEntry], call: Call) -> Answer:
    """Unused points (what is left of each addition) of one status, sorted as asked."""
    query = call.query
    status = query.get("status", "active")
    wanted = _subledgers(call)
    found = [
        e
        for e in entries
        if e.type == "addition"
        and e.remaining > 0
        and e.status(call.now) == status
        and (wanted is None or e.subledger_id in wanted)
        and ("customerSessionIDs" not in query or e.session_id in query["customerSessionIDs"])
        and ("transactionUUIDs" not in query or e.uuid in query["transactionUUIDs"])
    ]
    far = datetime.max.replace(tzinfo=call.now.tzinfo)
    if query.get("sort") == "expiryDate":
        found.sort(key=lambda e: (e.expiry or far, e.id))
    else:
        found.sort(key=lambda e: (e.start or e.created, e.id))
    page, more = _page(found, call, 50)
    return 200, {"hasMore": more, "data": [e.points_json() for e in page]}


@operation("getLoyaltyProgramProfilePoints")
def get_loyalty_program_profile_points(store: Store, call: Call) -> Answer:
    _, entries = store.profile_ledger(call.path["loyaltyProgramId"], call.path["integrationId"])
    return _points(entries, call)


@operation("getLoyaltyCardPoints")
def get_loyalty_card_points(store: Store, call: Call) -> Answer:
    card = store.loyalty.card(call.path["loyaltyProgramId"], call.path["loyaltyCardId"])
    return _points(store.loyalty.ledger(card.program_id, card=card.identifier), call)


@operation("activateLoyaltyPoints")
def activate_loyalty_points(store: Store, call: Call) -> Answer:
    entries = store.activate(call.path["loyaltyProgramId"], call.body, call.now)
    return 200, {"ledgerEntries": [e.ledger_entry_json(store.ctx.user_id) for e in entries]}


@operation("deleteLoyaltyTransactionsFromLedgers")
def delete_loyalty_transactions_from_ledgers(store: Store, call: Call) -> Answer:
    store.delete_transactions(call.path["loyaltyProgramId"], call.path["integrationId"], call.body)
    return 204, None


@operation("joinLoyaltyProgram")
def join_loyalty_program(store: Store, call: Call) -> Answer:
    store.join(call.path["loyaltyProgramId"], call.path["integrationId"], call.now)
    return 200, None  # the spec documents 200 without a body


@operation("generateLoyaltyCard")
def generate_loyalty_card(store: Store, call: Call) -> Answer:
    card = store.generate_card(call.path["loyaltyProgramId"], call.body, call.now)
    return 200, store.loyalty.card_json(card, call.now)


def _card_and_profile(store: Store, call: Call) -> tuple[LoyaltyCard, str]:
    card = store.loyalty.card(call.path["loyaltyProgramId"], call.path["loyaltyCardId"])
    profile_id = call.body["integrationId"]
    if profile_id not in store.profiles:
        raise not_found(f"Customer profile {profile_id!r} does not exist", "/integrationId")
    return card, profile_id


@operation("linkLoyaltyCardToProfile")
def link_loyalty_card_to_profile(store: Store, call: Call) -> Answer:
    card, profile_id = _card_and_profile(store, call)
    store.loyalty.link(card, profile_id, call.now)
    return 200, store.loyalty.card_json(card, call.now)


@operation("unlinkLoyaltyCardFromProfile")
def unlink_loyalty_card_from_profile(store: Store, call: Call) -> Answer:
    card, profile_id = _card_and_profile(store, call)
    store.loyalty.unlink(card, profile_id, call.now)
    return 200, store.loyalty.card_json(card, call.now)


# -- achievements ----------------------------------------------------------------------------


@operation("getCustomerAchievements")
def get_customer_achievements(store: Store, call: Call) -> Answer:
    profile_id = call.path["integrationId"]
    store._existing_profile(profile_id)
    query = call.query
    # "If the achievement status is not specified, only data for all active achievements."
    statuses = query.get("achievementStatus") or ["active"]
    found = [
        a
        for a in store.achievements.values()
        if a.status in statuses
        and ("campaignIds" not in query or str(a.campaign_id) in query["campaignIds"])
        and ("achievementIds" not in query or str(a.id) in query["achievementIds"])
        and (
            "currentProgressStatus" not in query
            or a.progress_json(profile_id, call.now)["status"] in query["currentProgressStatus"]
        )
    ]
    page, _ = _page(found, call, 1000)
    return 200, {
        "totalResultSize": len(found),
        "data": [a.status_entry_json(profile_id, call.now) for a in page],
    }


@operation("getCustomerAchievementHistory")
def get_customer_achievement_history(store: Store, call: Call) -> Answer:
    profile_id = call.path["integrationId"]
    store._existing_profile(profile_id)
    achievement = store.achievements.get(call.path["achievementId"])
    if achievement is None:
        raise not_found(f"Achievement {call.path['achievementId']} does not exist")
    query = call.query
    runs = [
        r
        for r in reversed(achievement.runs.get(profile_id, []))
        if ("progressStatus" not in query or r.status_at(call.now) in query["progressStatus"])
        and ("startDate" not in query or r.start >= query["startDate"])
        and ("endDate" not in query or r.start <= query["endDate"])
    ]
    page, _ = _page(runs, call, 1000)
    return 200, {"totalResultSize": len(runs), "data": [r.to_json(call.now) for r in page]}


# -- campaigns, catalogs, prices -------------------------------------------------------------


@operation("integrationGetAllCampaigns")
def integration_get_all_campaigns(store: Store, call: Call) -> Answer:
    page, more = store.running_campaigns(call.query, call.now)
    return 200, {"hasMore": more, "data": [c.to_integration_json(store.ctx) for c in page]}


@operation("syncCatalog")
def sync_catalog(store: Store, call: Call) -> Answer:
    return 200, store.catalogs.sync(call.path["catalogId"], call.body, call.now).to_json(store.ctx)


@operation("bestPriorPrice")
def best_prior_price(store: Store, call: Call) -> Answer:
    return 200, store.catalogs.best_prior_price(call.body, store.ctx.application_id)
