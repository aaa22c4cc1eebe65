"""The sandbox's state and the business rules of Talon.One's Integration API.

Not thread-safe by itself: the app calls it under one lock. Every method validates first and
mutates last, so a refused request leaves no trace; a dry run (``dry=True``) computes the same
answer on copies and commits nothing.
"""

from __future__ import annotations

import copy
import secrets
import string
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from sandbox.achievements import Achievement
from sandbox.audiences import Audiences
from sandbox.catalog import Catalogs
from sandbox.errors import bad_request, conflict, not_found
from sandbox.loyalty import LedgerEntry, LoyaltyBook, LoyaltyCard, LoyaltyProgram, expiry_after
from sandbox.model import (
    ZERO_TIME,
    Campaign,
    Context,
    Coupon,
    Event,
    LoyaltyAward,
    LoyaltyRule,
    Profile,
    Redemption,
    Referral,
    Return,
    Session,
    SessionState,
    iso,
    money,
    points,
)
from sandbox.rules import (
    Evaluation,
    PlannedPoints,
    coupon_rejection,
    effect,
    evaluate_event,
    evaluate_session,
)
from sandbox.seed import Seed
from sandbox.spec import new_uuid, parse_datetime

SESSION_UPDATED = "talon_session_updated"
SESSION_REOPENED = "talon_session_reopened"
SESSION_RETURNED = "talon_session_returned"
PROFILE_UPDATED = "talon_profile_updated"
RESERVED_EVENT_PREFIX = "talon_"
DEFAULT_CODE_CHARACTERS = tuple(string.ascii_uppercase + string.digits)
CODE_ATTEMPTS = 1000
REDEEMED_EFFECTS = frozenset({"acceptCoupon", "acceptReferral", "setDiscount"})
CLOSED_STATES = frozenset({"closed", "partially_returned"})
MAX_CART_ITEMS = 1000
MAX_CART_QUANTITY = 10_000
MAX_PROFILES_PER_BATCH = 1000


@dataclass(frozen=True, slots=True)
class SessionPatch:
    """The fields a session update sent; None = omitted (cumulative PUT keeps the stored value)."""

    api: Literal["v1", "v2"]
    pointer: str  # where the session object sits in the request body, for error pointers
    profile_id: str | None = None
    coupon_codes: list[str] | None = None
    referral_code: str | None = None
    state: SessionState | None = None
    cart_items: list[dict[str, Any]] | None = None
    additional_costs: dict[str, dict[str, Any]] | None = None
    identifiers: list[str] | None = None
    attributes: dict[str, Any] | None = None
    total: float | None = None
    store_integration_id: str | None = None
    loyalty_cards: list[str] | None = None
    experiment_variant_allocations: list[dict[str, Any]] | None = None

    @classmethod
    def from_v1(cls, body: Mapping[str, Any]) -> SessionPatch:
        coupon = body.get("coupon")
        return cls(
            api="v1",
            pointer="",
            profile_id=body.get("profileId"),
            # v1 carries one coupon; "" clears it like an empty couponCodes array in v2.
            coupon_codes=None if coupon is None else ([coupon] if coupon else []),
            referral_code=body.get("referral"),
            state=body.get("state"),
            cart_items=body.get("cartItems"),
            identifiers=body.get("identifiers"),
            attributes=body.get("attributes"),
            total=body.get("total"),
        )

    @classmethod
    def from_v2(cls, session: Mapping[str, Any]) -> SessionPatch:
        return cls(
            api="v2",
            pointer="/customerSession",
            profile_id=session.get("profileId"),
            coupon_codes=session.get("couponCodes"),
            referral_code=session.get("referralCode"),
            state=session.get("state"),
            cart_items=session.get("cartItems"),
            additional_costs=session.get("additionalCosts"),
            identifiers=session.get("identifiers"),
            attributes=session.get("attributes"),
            store_integration_id=session.get("storeIntegrationId"),
            loyalty_cards=session.get("loyaltyCards"),
            experiment_variant_allocations=session.get("experimentVariantAllocations"),
        )


@dataclass(frozen=True, slots=True)
class SessionOutcome:
    session: Session
    profile: Profile | None
    event: Event
    evaluation: Evaluation
    committed: bool = True  # False for dry runs: the loyalty points are still tentative


@dataclass(frozen=True, slots=True)
class ReturnOutcome:
    session: Session
    profile: Profile | None
    event: Event
    created: Return
    effects: list[dict[str, Any]]


@dataclass(slots=True)
class _Ids:
    """Internal ids of the entities the API creates (peeked, not taken, by dry runs)."""

    profile: int = 0
    session: int = 0
    return_: int = 0
    referral: int = 0
    batch: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class Store:
    def __init__(self, seed: Seed, application_id: int) -> None:
        self.ctx = Context(application_id, seed.account_id, seed.user_id)
        entities = seed.entities(application_id)
        self.campaigns: dict[int, Campaign] = {c.id: c for c in entities.campaigns}
        self.coupons: dict[str, Coupon] = {c.value: c for c in entities.coupons}
        self.referrals: dict[str, Referral] = {r.code: r for r in entities.referrals}
        self.profiles: dict[str, Profile] = {p.integration_id: p for p in entities.profiles}
        self.sessions: dict[str, Session] = {}
        self.events: list[Event] = []
        self.v3_events: dict[str, Event] = {}
        self.loyalty = LoyaltyBook(entities.programs, entities.cards)
        self.loyalty.entries = list(entities.transactions)
        self.audiences = Audiences(entities.audiences)
        self.catalogs = Catalogs(entities.catalogs)
        self.achievements: dict[int, Achievement] = {a.id: a for a in entities.achievements}
        self._ids = _Ids(
            profile=max([p.id for p in entities.profiles] + [0]),
            referral=max([r.id for r in entities.referrals] + [0]),
        )

    # -- helpers -----------------------------------------------------------------------------

    def profile_json(self, profile: Profile) -> dict[str, Any]:
        return profile.to_json(self.ctx, self.audiences.memberships(profile.integration_id))

    def _owner(self, existing: Session | None, requested: str | None, pointer: str) -> str:
        """The profile a session belongs to after this request; a session has only one."""
        if existing is None:
            return requested or ""
        if requested is None or requested == existing.profile_id:
            return existing.profile_id
        # An anonymous session may be claimed once, when the customer signs in.
        if existing.profile_id == "" and existing.state == "open":
            return requested
        raise bad_request(
            f"Customer session {existing.integration_id!r} belongs to another customer profile",
            pointer,
            title="Profile mismatch",
        )

    def _is_first_session(self, profile_id: str, session_id: str) -> bool:
        if not profile_id:
            return True  # spec: always true for anonymous sessions
        return not any(s.profile_id == profile_id for k, s in self.sessions.items() if k != session_id)

    def _touch_profile(self, profile_id: str, now: datetime, *, dry: bool = False) -> Profile | None:
        """The profile, created empty on first use; None for anonymous sessions.

        A dry run gets a copy (or an unstored new profile) so nothing it does can stick.
        """
        if not profile_id:
            return None
        profile = self.profiles.get(profile_id)
        if dry:
            if profile is not None:
                return replace(profile, attributes=dict(profile.attributes))
            return Profile(profile_id, created=now, last_activity=now, id=self._ids.profile + 1)
        if profile is None:
            self._ids.profile += 1
            profile = self.profiles[profile_id] = Profile(
                profile_id, created=now, last_activity=now, id=self._ids.profile
            )
        profile.last_activity = now
        return profile

    def _existing_profile(self, integration_id: str) -> Profile:
        profile = self.profiles.get(integration_id)
        if profile is None:
            raise not_found(f"Customer profile {integration_id!r} does not exist")
        return profile

    def _record_event(
        self,
        event_type: str,
        *,
        profile_id: str,
        session_id: str | None,
        attributes: dict[str, Any],
        evaluation: Evaluation,
        now: datetime,
        dry: bool = False,
        integration_id: str | None = None,
        connected_session_id: str | None = None,
        store_integration_id: str | None = None,
    ) -> Event:
        event = Event(
            id=len(self.events) + 1,
            created=now,
            type=event_type,
            profile_id=profile_id,
            session_id=session_id,
            attributes=attributes,
            effects=list(evaluation.effects),
            meta=evaluation.meta,
            integration_id=integration_id,
            connected_session_id=connected_session_id,
            store_integration_id=store_integration_id,
        )
        if not dry:
            self.events.append(event)
            for campaign in evaluation.triggered:
                campaign.last_activity = now
        return event

    def anonymous_profile_json(self, now: datetime) -> dict[str, Any]:
        """v1 responses require a profile even for anonymous sessions: an empty one, not stored."""
        return Profile("", created=now, last_activity=now).to_legacy_json(self.ctx)

    def no_session_json(self, profile_id: str) -> dict[str, Any]:
        """v1 profile updates have no session but the response requires one: Go zero values."""
        return Session("", created=ZERO_TIME, profile_id=profile_id, first_session=False).to_v1_json(self.ctx)

    def _loyalty_target(self, rule: LoyaltyRule, session: Session) -> tuple[str, str | None] | None:
        """Who a loyalty rule credits: a member profile, or an active card of the session/profile."""
        program = self.loyalty.programs.get(rule.program_id)
        if program is None:
            return None
        if program.kind == "profile":
            if session.profile_id and session.profile_id in program.members:
                return session.profile_id, None
            return None
        for identifier in session.loyalty_cards:
            card = self.loyalty.cards.get((program.id, identifier))
            if card is not None and card.status == "active":
                return session.profile_id, identifier
        if session.profile_id:
            for card in self.loyalty.cards_of(session.profile_id, program.id):
                if card.status == "active":
                    return session.profile_id, card.identifier
        return None

    # -- sessions ----------------------------------------------------------------------------

    def update_session(
        self,
        session_id: str,
        patch: SessionPatch,
        now: datetime,
        *,
        dry: bool = False,
        evaluable: Collection[int] | None = None,
    ) -> SessionOutcome:
        existing = self.sessions.get(session_id)
        state_pointer = f"{patch.pointer}/state"
        if existing is not None and existing.state == "cancelled":
            raise bad_request(
                f"Customer session {session_id!r} is cancelled and cannot be changed",
                state_pointer,
                title="Invalid state transition",
            )
        owner = self._owner(existing, patch.profile_id, f"{patch.pointer}/profileId")
        current: SessionState = existing.state if existing else "open"
        target = self._target_state(session_id, current, patch)
        merged = self._merge(existing, session_id, patch, owner, now)
        if existing is not None and current in CLOSED_STATES and merged.content() != existing.content():
            raise bad_request(
                f"Customer session {session_id!r} is {current}: it can only be cancelled",
                patch.pointer,
                title="Invalid state transition",
            )
        # Validation is over: commit (or, for a dry run, compute what would be committed).
        profile = self._touch_profile(owner, now, dry=dry)
        if current in CLOSED_STATES and target == "cancelled":
            evaluation = Evaluation(effects=self._roll_back(merged, profile, now, apply=not dry))
        elif current in CLOSED_STATES:
            evaluation = Evaluation()  # closed → closed without changes: an idempotent no-op
        elif target == "cancelled":
            evaluation = Evaluation()
            merged.discounts = {}
        else:
            evaluation = evaluate_session(
                merged,
                self.campaigns,
                self.coupons,
                self.referrals,
                now,
                loyalty_target=self._loyalty_target,
                closing=target == "closed",
                evaluable=evaluable,
            )
            merged.discounts = dict(evaluation.discounts)
            if target == "closed" and not dry:
                self._redeem(merged, evaluation, profile, now)
        merged.state = target
        merged.effects = list(evaluation.effects)
        merged.update_count += 1
        merged.updated = now
        if merged.id == 0:
            merged.id = self._ids.session + 1
            if not dry:
                self._ids.session += 1
        if not dry:
            self.sessions[session_id] = merged
        event = self._record_event(
            SESSION_UPDATED,
            profile_id=owner,
            session_id=session_id,
            attributes={},
            evaluation=evaluation,
            now=now,
            dry=dry,
            store_integration_id=merged.store_integration_id,
        )
        return SessionOutcome(merged, profile, event, evaluation, committed=not dry)

    @staticmethod
    def _target_state(session_id: str, current: SessionState, patch: SessionPatch) -> SessionState:
        """The state an update asks for, refused (400) where today's state machine has no arrow."""
        target: SessionState = patch.state or current
        state_pointer = f"{patch.pointer}/state"
        if patch.api == "v1" and current == "partially_returned" and target == "closed":
            return current  # v1 shows partially_returned as closed: repeating it changes nothing
        if target == "partially_returned" and current != "partially_returned":
            raise bad_request(
                "A session becomes partially_returned only by returning cart items (POST .../returns)",
                state_pointer,
                title="Invalid state transition",
            )
        if current in CLOSED_STATES and target in ("open", "closed") and target != current:
            hint = " (use PUT .../reopen)" if current == "closed" else ""
            raise bad_request(
                f"Customer session {session_id!r} is {current} and cannot become {target}{hint}",
                state_pointer,
                title="Invalid state transition",
            )
        return target

    def _cart(self, items: list[dict[str, Any]], pointer: str) -> list[dict[str, Any]]:
        """Cart items as stored: positions, return counters, and catalog prices and ids."""
        if len(items) > MAX_CART_ITEMS:
            raise bad_request(f"A session holds at most {MAX_CART_ITEMS} cart items", f"{pointer}/cartItems")
        if sum(int(i["quantity"]) for i in items) > MAX_CART_QUANTITY:
            raise bad_request(
                f"The cart items' quantities add up to more than {MAX_CART_QUANTITY}", f"{pointer}/cartItems"
            )
        out = []
        for n, item in enumerate(items):
            stored = dict(item)  # the request body is the request's own: no deep copy
            found = self.catalogs.item(stored["sku"], self.ctx.application_id)
            if found is not None:
                stored["catalogItemID"] = found.id
                # "If it is part of a catalog, setting a price here overrides the price from the catalog."
                if "price" not in stored and found.price is not None:
                    stored["price"] = found.price
                if "product" not in stored and found.product is not None:
                    stored["product"] = found.product
            if "price" not in stored:
                raise bad_request(
                    f"Cart item {stored['sku']!r} needs a price: its SKU is in no catalog",
                    f"{pointer}/cartItems/{n}/price",
                    title="Missing field",
                )
            # `position` is "calculated internally": the index in the cart.
            stored["position"] = n
            stored["returnedQuantity"] = 0
            stored["remainingQuantity"] = int(stored["quantity"])
            out.append(stored)
        return out

    def _merge(
        self, existing: Session | None, session_id: str, patch: SessionPatch, owner: str, now: datetime
    ) -> Session:
        if existing is None:
            session = Session(session_id, created=now, profile_id=owner, first_session=True)
        else:
            session = existing.clone()
        if session.profile_id != owner or existing is None:
            session.profile_id = owner
            session.first_session = self._is_first_session(owner, session_id)
        self._patch_fields(session, patch)
        if patch.cart_items is not None:
            cart = self._cart(patch.cart_items, patch.pointer)
            # Unchanged items keep their return counters (a repeated close sends the same cart).
            if [self._bare(i) for i in cart] != [self._bare(i) for i in session.cart_items]:
                session.cart_items = cart
        if patch.attributes is not None:
            # Shallow merge: sent keys replace, others stay (a key is never removed by omission).
            session.attributes = {**session.attributes, **patch.attributes}
        if patch.api == "v1" and patch.total is not None:
            session.stated_total = float(patch.total)
        elif patch.api == "v2" and (patch.cart_items is not None or patch.additional_costs is not None):
            session.stated_total = None  # v2 totals are computed from the cart
        return session

    @staticmethod
    def _patch_fields(session: Session, patch: SessionPatch) -> None:
        """The fields a cumulative PUT replaces as a whole when they are sent."""
        if patch.coupon_codes is not None:
            session.coupon_codes = list(patch.coupon_codes)
        if patch.referral_code is not None:
            session.referral_code = patch.referral_code
        if patch.additional_costs is not None:
            session.additional_costs = dict(patch.additional_costs)
        if patch.identifiers is not None:
            session.identifiers = list(patch.identifiers)
        if patch.store_integration_id is not None:
            session.store_integration_id = patch.store_integration_id
        if patch.loyalty_cards is not None:
            session.loyalty_cards = list(patch.loyalty_cards)
        if patch.experiment_variant_allocations is not None:
            session.experiment_variant_allocations = list(patch.experiment_variant_allocations)

    @staticmethod
    def _bare(item: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in item.items() if k not in ("returnedQuantity", "remainingQuantity")}

    def _redeem(
        self, session: Session, evaluation: Evaluation, profile: Profile | None, now: datetime
    ) -> None:
        """Closing a session: count the accepted codes, the purchase, the points and achievements."""
        owner = session.profile_id
        for coupon in evaluation.accepted_coupons:
            coupon.usage_counter += 1
            if owner:
                coupon.redemptions[owner] = coupon.redemptions.get(owner, 0) + 1
            self.campaigns[coupon.campaign_id].coupon_redemption_count += 1
        referral = evaluation.accepted_referral
        if referral is not None:
            referral.usage_counter += 1
            if owner:
                referral.referred.append(owner)
            self.campaigns[referral.campaign_id].referral_redemption_count += 1
        total = session.total
        if profile is not None:
            profile.closed_sessions += 1
            profile.total_sales = money(profile.total_sales + total)
        awards = [self._award(session, planned, now) for planned in evaluation.loyalty]
        progressed: list[int] = []
        if owner:
            progressed = [
                a.id
                for a in self.achievements.values()
                if a.progress_on == "closedSession" and a.is_open(now) and a.advance(owner, now)
            ]
        session.redemption = Redemption(
            coupons=[c.value for c in evaluation.accepted_coupons],
            referral=referral.code if referral else None,
            effects=[e for e in evaluation.effects if e["effectType"] in REDEEMED_EFFECTS],
            total=total,
            cart_item_total=session.cart_item_total,
            loyalty=awards,
            achievements=progressed,
        )

    def _award(self, session: Session, planned: PlannedPoints, now: datetime) -> LoyaltyAward:
        rule = planned.rule
        self.loyalty.add(
            LedgerEntry(
                id=self.loyalty.next_entry_id(),
                uuid=planned.transaction_uuid,
                created=now,
                program_id=rule.program_id,
                type="addition",
                name=planned.campaign.rule.name,
                amount=planned.amount,
                subledger_id=rule.subledger_id,
                profile_id=None if planned.card else planned.recipient,
                card=planned.card,
                session_id=session.integration_id,
                kind="session",
                expiry=expiry_after(now, rule.expiry_days),
                awaits_activation=rule.awaits_activation,
                ruleset_id=planned.campaign.ruleset_id,
                rule_name=planned.campaign.rule.name,
                recipient=planned.recipient,
            )
        )
        return LoyaltyAward(
            program_id=rule.program_id,
            transaction_uuid=planned.transaction_uuid,
            amount=planned.amount,
            subledger_id=rule.subledger_id,
            recipient=planned.recipient,
            card=planned.card,
            campaign_id=planned.campaign.id,
        )

    def _take_back(
        self, session: Session, award: LoyaltyAward, amount: float, now: datetime, *, apply: bool
    ) -> dict[str, Any] | None:
        """rollbackAddedLoyaltyPoints for ``amount`` of an award (what is left of its points)."""
        bucket = self.loyalty.find(award.transaction_uuid)
        amount = points(min(amount, award.amount - award.rolled_back, bucket.remaining if bucket else 0.0))
        if amount <= 0 or bucket is None:
            return None
        campaign = self.campaigns[award.campaign_id]
        props: dict[str, Any] = {
            "programId": award.program_id,
            "subLedgerId": award.subledger_id,
            "value": amount,
            "recipientIntegrationId": award.recipient,
            "transactionUUID": award.transaction_uuid,
        }
        if award.card is not None:
            props["cardIdentifier"] = award.card
        if apply:
            award.rolled_back = points(award.rolled_back + amount)
            bucket.remaining = points(bucket.remaining - amount)
            self.loyalty.add(
                LedgerEntry(
                    id=self.loyalty.next_entry_id(),
                    uuid=new_uuid(),
                    created=now,
                    program_id=award.program_id,
                    type="subtraction",
                    name=f"Rollback: {bucket.name}",
                    amount=amount,
                    subledger_id=award.subledger_id,
                    profile_id=bucket.profile_id,
                    card=bucket.card,
                    session_id=session.integration_id,
                    kind="session",
                    ruleset_id=campaign.ruleset_id,
                    rule_name=campaign.rule.name,
                    recipient=award.recipient,
                )
            )
        return effect(campaign, "rollbackAddedLoyaltyPoints", props)

    def _roll_back(
        self, session: Session, profile: Profile | None, now: datetime, *, apply: bool
    ) -> list[dict[str, Any]]:
        """Undo a close (cancel or reopen): rollbackCoupon, rollbackDiscount and the points left."""
        redemption = session.redemption
        effects: list[dict[str, Any]] = []
        if redemption is None:
            session.discounts = {}
            return effects
        for e in redemption.effects:
            if e["effectType"] == "acceptCoupon":
                effects.append({**e, "effectType": "rollbackCoupon", "props": {"value": e["props"]["value"]}})
            elif e["effectType"] == "setDiscount":
                effects.append({**e, "effectType": "rollbackDiscount", "props": dict(e["props"])})
        for award in redemption.loyalty:
            rollback = self._take_back(session, award, award.amount, now, apply=apply)
            if rollback is not None:
                effects.append(rollback)
        session.redemption = None
        session.discounts = {}
        if apply:
            self._undo_counters(redemption, session.profile_id, profile)
        return effects

    def _undo_counters(self, redemption: Redemption, owner: str, profile: Profile | None) -> None:
        for value in redemption.coupons:
            if (coupon := self.coupons.get(value)) is not None:
                coupon.usage_counter = max(0, coupon.usage_counter - 1)
                if owner and coupon.redemptions.get(owner):
                    coupon.redemptions[owner] -= 1
                campaign = self.campaigns[coupon.campaign_id]
                campaign.coupon_redemption_count = max(0, campaign.coupon_redemption_count - 1)
        if redemption.referral and (referral := self.referrals.get(redemption.referral)) is not None:
            referral.usage_counter = max(0, referral.usage_counter - 1)
            if owner in referral.referred:
                referral.referred.remove(owner)
            campaign = self.campaigns[referral.campaign_id]
            campaign.referral_redemption_count = max(0, campaign.referral_redemption_count - 1)
        if profile is not None:
            profile.closed_sessions = max(0, profile.closed_sessions - 1)
            profile.total_sales = money(profile.total_sales - (redemption.total - redemption.returned_total))
        for achievement_id in redemption.achievements:
            self.achievements[achievement_id].retreat(owner)

    def get_session(self, session_id: str) -> Session:
        session = self.sessions.get(session_id)
        if session is None:
            # getCustomerSession documents 400, not 404, for what it cannot answer.
            raise bad_request(f"Customer session {session_id!r} does not exist", title="Not found")
        return session

    def reopen(self, session_id: str, now: datetime) -> tuple[Session, Event, list[dict[str, Any]]]:
        """closed → open: the close is rolled back (codes, points), re-closing redeems again."""
        session = self.get_session(session_id)
        if session.state != "closed":
            raise bad_request(
                f"Customer session {session_id!r} is {session.state}: only closed sessions can be reopened",
                title="Invalid state transition",
            )
        profile = self._touch_profile(session.profile_id, now)
        effects = self._roll_back(session, profile, now, apply=True)
        session.state = "open"
        session.effects = list(effects)
        session.update_count += 1
        session.updated = now
        event = self._record_event(
            SESSION_REOPENED,
            profile_id=session.profile_id,
            session_id=session_id,
            attributes={},
            evaluation=Evaluation(effects=effects),
            now=now,
        )
        return session, event, effects

    def return_items(
        self, session_id: str, items: list[dict[str, Any]], now: datetime, *, dry: bool = False
    ) -> ReturnOutcome:
        """closed | partially_returned → partially_returned, rolling back the returned share of points."""
        existing = self.get_session(session_id)
        if existing.state not in CLOSED_STATES:
            raise bad_request(
                f"Customer session {session_id!r} is {existing.state}: only closed sessions take returns",
                title="Invalid state transition",
            )
        session = existing.clone()
        resolved, value = self._resolve_returns(session, items)
        profile = self._touch_profile(session.profile_id, now, dry=dry)
        effects: list[dict[str, Any]] = []
        redemption = session.redemption
        if redemption is not None and redemption.cart_item_total > 0:
            # Points were earned on the cart: the returned value's share of them goes back.
            share = value / redemption.cart_item_total
            for award in redemption.loyalty:
                rollback = self._take_back(session, award, award.amount * share, now, apply=not dry)
                if rollback is not None:
                    effects.append(rollback)
            redemption.returned_total = money(redemption.returned_total + value)
        if profile is not None and not dry:
            profile.total_sales = money(profile.total_sales - value)
        session.state = "partially_returned"
        session.effects = list(effects)
        session.update_count += 1
        session.updated = now
        event = self._record_event(
            SESSION_RETURNED,
            profile_id=session.profile_id,
            session_id=session_id,
            attributes={},
            evaluation=Evaluation(effects=effects),
            now=now,
            dry=dry,
        )
        created = Return(
            id=self._ids.return_ + 1,
            created=now,
            session_id=session.id,
            session_integration_id=session_id,
            profile_id=profile.id if profile else None,
            profile_integration_id=session.profile_id,
            event_id=event.id,
            items=resolved,
        )
        if not dry:
            # The copy (its redemption's awards included) becomes the session.
            self._ids.return_ += 1
            session.returns.append(created)
            self.sessions[session_id] = session
        return ReturnOutcome(session, profile, event, created, effects)

    @staticmethod
    def _resolve_returns(session: Session, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], float]:
        """Apply the returned items to the session's cart: what was returned, and its value."""
        pointer = "/return/returnedCartItems"
        if not items:
            raise bad_request("There is nothing to return", pointer)
        resolved: list[dict[str, Any]] = []
        value = 0.0
        for n, wanted in enumerate(items):
            where = f"{pointer}/{n}"
            position, sku = wanted.get("position"), wanted.get("sku")
            if position is None and sku is None:
                raise bad_request("A returned item needs a position or a sku", where)
            if position is not None:
                if not 0 <= position < len(session.cart_items):
                    raise bad_request(f"No cart item at position {position}", f"{where}/position")
                item = session.cart_items[position]
                if sku is not None and sku != item["sku"]:
                    raise bad_request(f"The item at position {position} is not {sku!r}", f"{where}/sku")
            else:
                candidates = [i for i in session.cart_items if i["sku"] == sku and i["remainingQuantity"] > 0]
                if not candidates:
                    raise bad_request(f"No cart item {sku!r} left to return", f"{where}/sku")
                item = candidates[0]
            quantity = wanted.get("quantity", item["remainingQuantity"])
            if not 1 <= quantity <= item["remainingQuantity"]:
                raise bad_request(
                    f"Quantity {quantity} is not between 1 and {item['remainingQuantity']} (left to return)",
                    f"{where}/quantity",
                )
            item["returnedQuantity"] += quantity
            item["remainingQuantity"] -= quantity
            value += float(item["price"]) * quantity
            resolved.append({"position": item["position"], "quantity": quantity, "sku": item["sku"]})
        return resolved, money(value)

    # -- events --------------------------------------------------------------------------------

    def _event_type(self, event_type: str, pointer: str = "/type") -> None:
        if event_type.startswith(RESERVED_EVENT_PREFIX):
            raise bad_request(f"Event type {event_type!r} is reserved", pointer, title="Invalid field")

    def track_event(
        self,
        session_id: str,
        profile_id: str | None,
        event_type: str,
        attributes: dict[str, Any],
        now: datetime,
    ) -> tuple[Session, Profile | None, Event]:
        """The legacy v1 event: it belongs to a session, created on first use."""
        self._event_type(event_type)
        existing = self.sessions.get(session_id)
        owner = self._owner(existing, profile_id, "/profileId")
        if existing is None:
            self._ids.session += 1
            session = Session(
                session_id, created=now, profile_id=owner, first_session=True, id=self._ids.session
            )
            session.first_session = self._is_first_session(owner, session_id)
            session.update_count, session.updated = 1, now
            self.sessions[session_id] = session
        else:
            session = existing
            if session.profile_id != owner:
                session.profile_id = owner
                session.first_session = self._is_first_session(owner, session_id)
            session.updated = now
        profile = self._touch_profile(owner, now)
        evaluation = evaluate_event(event_type, self.campaigns, now)
        event = self._record_event(
            event_type,
            profile_id=owner,
            session_id=session_id,
            attributes=attributes,
            evaluation=evaluation,
            now=now,
        )
        return session, profile, event

    def track_event_v2(
        self, body: Mapping[str, Any], now: datetime, *, dry: bool, evaluable: Collection[int] | None
    ) -> tuple[Profile, Event, Evaluation]:
        profile_id = body.get("profileId")
        if not profile_id:
            # "profileId is required even though the schema does not specify it."
            raise bad_request("'profileId' is required", "/profileId", title="Missing field")
        self._event_type(body["type"])
        evaluation = evaluate_event(body["type"], self.campaigns, now, evaluable)
        profile = self._touch_profile(profile_id, now, dry=dry)
        assert profile is not None
        event = self._record_event(
            body["type"],
            profile_id=profile_id,
            session_id=None,
            attributes=body.get("attributes", {}),
            evaluation=evaluation,
            now=now,
            dry=dry,
            store_integration_id=body.get("storeIntegrationId"),
        )
        return profile, event, evaluation

    def track_event_v3(
        self, body: Mapping[str, Any], now: datetime, *, dry: bool, evaluable: Collection[int] | None
    ) -> tuple[Profile, Event, Evaluation]:
        """An advanced event: its integrationId is accepted once, a repeat gets 409."""
        integration_id: str = body["integrationId"]
        if integration_id in self.v3_events:
            raise conflict(
                f"An advanced event with integrationId {integration_id!r} already exists", "/integrationId"
            )
        connected = body.get("connectedSessionId")
        if connected is not None:
            session = self.sessions.get(connected)
            if session is None or session.state != "closed":
                raise bad_request(
                    f"connectedSessionId {connected!r} must name a closed customer session",
                    "/connectedSessionId",
                )
        if not body["profileId"]:
            raise bad_request("'profileId' must not be empty", "/profileId")
        self._event_type(body["type"])
        evaluation = evaluate_event(body["type"], self.campaigns, now, evaluable)
        profile = self._touch_profile(body["profileId"], now, dry=dry)
        assert profile is not None
        event = self._record_event(
            body["type"],
            profile_id=body["profileId"],
            session_id=None,
            attributes=body.get("attributes", {}),
            evaluation=evaluation,
            now=now,
            dry=dry,
            integration_id=integration_id,
            connected_session_id=connected,
            store_integration_id=body.get("storeIntegrationId"),
        )
        if not dry:
            self.v3_events[integration_id] = event
        return profile, event, evaluation

    def get_event_v3(self, integration_id: str) -> Event:
        event = self.v3_events.get(integration_id)
        if event is None:
            raise not_found(f"Advanced event {integration_id!r} does not exist")
        return event

    # -- profiles ------------------------------------------------------------------------------

    def update_profile(
        self, integration_id: str, attributes: dict[str, Any] | None, now: datetime
    ) -> tuple[Profile, Event]:
        """The legacy v1 profile update."""
        profile = self._touch_profile(integration_id, now)
        assert profile is not None  # a path parameter is never empty
        if attributes is not None:
            profile.attributes = {**profile.attributes, **copy.deepcopy(attributes)}
        event = self._record_event(
            PROFILE_UPDATED,
            profile_id=integration_id,
            session_id=None,
            attributes={},
            evaluation=Evaluation(),
            now=now,
        )
        return profile, event

    def update_profile_v2(
        self, integration_id: str, body: Mapping[str, Any], now: datetime, *, dry: bool
    ) -> tuple[Profile, Event]:
        changes = body.get("audiencesChanges")
        if changes is not None:
            for key in ("adds", "deletes"):
                for n, audience_id in enumerate(changes[key]):
                    if audience_id not in self.audiences.audiences:
                        raise bad_request(
                            f"Audience {audience_id} does not exist", f"/audiencesChanges/{key}/{n}"
                        )
        profile = self._touch_profile(integration_id, now, dry=dry)
        assert profile is not None
        if "attributes" in body:
            profile.attributes = {**profile.attributes, **copy.deepcopy(body["attributes"])}
        if changes is not None and not dry:
            for audience_id in changes["adds"]:
                self.audiences.audiences[audience_id].members.setdefault(integration_id, now)
            for audience_id in changes["deletes"]:
                self.audiences.audiences[audience_id].members.pop(integration_id, None)
        event = self._record_event(
            PROFILE_UPDATED,
            profile_id=integration_id,
            session_id=None,
            attributes={},
            evaluation=Evaluation(),
            now=now,
            dry=dry,
        )
        return profile, event

    def update_profiles(self, items: list[dict[str, Any]], now: datetime) -> list[Profile]:
        """Batch update without the rule engine (so without events)."""
        if len(items) > MAX_PROFILES_PER_BATCH:
            raise bad_request(
                f"At most {MAX_PROFILES_PER_BATCH} customer profiles per request", "/customerProfiles"
            )
        for n, item in enumerate(items):
            if not item["integrationId"]:
                raise bad_request("'integrationId' must not be empty", f"/customerProfiles/{n}/integrationId")
        out = []
        for item in items:
            profile = self._touch_profile(item["integrationId"], now)
            assert profile is not None
            if "attributes" in item:
                profile.attributes = {**profile.attributes, **copy.deepcopy(item["attributes"])}
            out.append(profile)
        return out

    # -- coupon reservations -----------------------------------------------------------------

    def _coupon(self, value: str) -> Coupon:
        coupon = self.coupons.get(value)
        if coupon is None:
            raise not_found(f"Coupon {value!r} does not exist")
        return coupon

    def reserve(self, value: str, integration_ids: list[str], now: datetime) -> Coupon:
        coupon = self._coupon(value)
        if any(not i for i in integration_ids):
            raise bad_request("Integration ids must not be empty", "/integrationIDs")
        if not coupon.reservation and len(set(coupon.holders) | set(integration_ids)) > 1:
            raise bad_request(
                f"Coupon {value!r} is a personal code: it can be reserved for one customer only",
                "/integrationIDs",
            )
        for integration_id in integration_ids:
            # A reservation references the customer: the profile exists from now on.
            if integration_id not in self.profiles:
                self._touch_profile(integration_id, now)
            coupon.holders.setdefault(integration_id, now)
        return coupon

    def unreserve(self, value: str, integration_ids: list[str]) -> None:
        coupon = self._coupon(value)
        for integration_id in integration_ids:
            coupon.holders.pop(integration_id, None)

    def reserved_coupons(self, integration_id: str, now: datetime) -> list[Coupon]:
        """Coupons reserved by ``integration_id`` that it could redeem right now."""
        return [
            c
            for c in self.coupons.values()
            if integration_id in c.holders
            and coupon_rejection(c, self.campaigns.get(c.campaign_id), integration_id, now) is None
        ]

    def reserved_customers(self, value: str) -> list[dict[str, Any]]:
        """Holders' profiles; a holder without a profile is listed as an empty one (not stored)."""
        coupon = self._coupon(value)
        out = []
        for integration_id, reserved_at in coupon.holders.items():
            profile = self.profiles.get(integration_id) or Profile(integration_id, reserved_at, reserved_at)
            out.append(self.profile_json(profile))
        return out

    # -- referrals -----------------------------------------------------------------------------

    def _code_taken(self, code: str) -> bool:
        return code in self.referrals or code in self.coupons

    def _referral_campaign(self, campaign_id: int) -> Campaign:
        campaign = self.campaigns.get(campaign_id)
        if campaign is None:
            raise bad_request(f"Campaign {campaign_id} does not exist", "/campaignId")
        if campaign.referral_settings is None:
            raise bad_request(f"Campaign {campaign.id} is not a referral campaign", "/campaignId")
        return campaign

    def _new_code(self, campaign: Campaign, pattern: str, characters: Iterable[str]) -> str:
        alphabet = tuple(characters) or DEFAULT_CODE_CHARACTERS
        for _ in range(CODE_ATTEMPTS):
            code = "".join(secrets.choice(alphabet) if ch == "#" else ch for ch in pattern)
            if not self._code_taken(code):
                return code
        raise bad_request(f"Campaign {campaign.id} has no unused referral code left", "/campaignId")

    def _referral(
        self,
        campaign: Campaign,
        advocate: str,
        body: Mapping[str, Any],
        *,
        code: str,
        now: datetime,
        batch_id: str | None = None,
    ) -> Referral:
        self._ids.referral += 1
        referral = Referral(
            id=self._ids.referral,
            created=now,
            campaign_id=campaign.id,
            advocate=advocate,
            code=code,
            usage_limit=body.get("usageLimit", campaign.referral_usage_limit),
            friend=body.get("friendProfileIntegrationId") or None,
            start_date=parse_datetime(body["startDate"]) if "startDate" in body else None,
            expiry_date=parse_datetime(body["expiryDate"]) if "expiryDate" in body else None,
            attributes=copy.deepcopy(body.get("attributes", {})),
            batch_id=batch_id,
        )
        self.referrals[code] = referral
        # The referral references its advocate, so the advocate's profile exists from now on.
        if advocate not in self.profiles:
            self._touch_profile(advocate, now)
        return referral

    def create_referral(self, body: Mapping[str, Any], now: datetime) -> Referral:
        campaign = self._referral_campaign(body["campaignId"])
        advocate: str = body["advocateProfileIntegrationId"]
        if not advocate:
            raise bad_request(
                "The advocate's integration id must not be empty", "/advocateProfileIntegrationId"
            )
        settings = campaign.referral_settings or {}
        code = self._new_code(campaign, settings["couponPattern"], settings.get("validCharacters", ()))
        return self._referral(campaign, advocate, body, code=code, now=now)

    def create_referrals(self, body: Mapping[str, Any], now: datetime) -> list[Referral]:
        """One referral per distinct advocate, in one batch."""
        campaign = self._referral_campaign(body["campaignId"])
        advocates = list(dict.fromkeys(body["advocateProfileIntegrationIds"]))
        for n, advocate in enumerate(body["advocateProfileIntegrationIds"]):
            if not advocate:
                raise bad_request(
                    "Advocate integration ids must not be empty", f"/advocateProfileIntegrationIds/{n}"
                )
        settings = campaign.referral_settings or {}
        pattern = body.get("referralPattern", settings["couponPattern"])
        if "#" not in pattern:
            raise bad_request("'referralPattern' needs at least one '#'", "/referralPattern")
        characters = body.get("validCharacters") or settings.get("validCharacters", ())
        self._ids.batch += 1
        batch_id = f"batch-{self._ids.batch:06d}"
        return [
            self._referral(
                campaign,
                advocate,
                body,
                code=self._new_code(campaign, pattern, characters),
                now=now,
                batch_id=batch_id,
            )
            for advocate in advocates
        ]

    # -- inventory, personal data --------------------------------------------------------------

    def _coupon_state(self, coupon: Coupon, profile_id: str, now: datetime) -> str:
        """InventoryCoupon.state, in the order its description gives."""
        campaign = self.campaigns.get(coupon.campaign_id)
        if (
            campaign is None
            or campaign.state != "enabled"
            or (campaign.end_time and campaign.end_time <= now)
        ):
            return "disabled"
        limit_reached = bool(coupon.usage_limit) and coupon.usage_counter >= coupon.usage_limit
        if coupon.redemptions.get(profile_id) or limit_reached:
            return "used"
        if coupon.expiry_date is not None and coupon.expiry_date <= now:
            return "expired"
        if coupon.start_date is not None and coupon.start_date > now:
            return "pending"
        return "active"

    def inventory(self, integration_id: str, flags: Mapping[str, bool], now: datetime) -> dict[str, Any]:
        found = self._existing_profile(integration_id)
        out: dict[str, Any] = {}
        if flags.get("profile"):
            out["profile"] = self.profile_json(found)
        if flags.get("referrals"):
            out["referrals"] = [
                r.to_json(inventory=True) for r in self.referrals.values() if r.advocate == integration_id
            ]
        if flags.get("coupons"):
            # Reserved coupons, personal ones, and (as Talon.One says) redeemed ones.
            out["coupons"] = [
                {**c.to_json(integration_id), "state": self._coupon_state(c, integration_id, now)}
                for c in self.coupons.values()
                if integration_id in c.holders
                or c.recipient_integration_id == integration_id
                or c.redemptions.get(integration_id)
            ]
        if flags.get("loyalty"):
            out["loyalty"] = self.loyalty_json(
                integration_id, now, cards=self.loyalty.cards_of(integration_id)
            )
        if flags.get("giveaways"):
            out["giveaways"] = []  # no seeded campaign awards giveaways
        if flags.get("achievements"):
            out["achievements"] = [
                a.inventory_json(integration_id, now)
                for a in self.achievements.values()
                if a.current(integration_id) is not None
            ]
        return out

    def loyalty_json(
        self,
        profile_id: str,
        now: datetime,
        *,
        cards: Iterable[LoyaltyCard] = (),
        tentative: Iterable[PlannedPoints] = (),
    ) -> dict[str, Any]:
        """Loyalty: the profile's program ledgers, the cards, and an open session's tentative points."""
        planned = list(tentative)
        programs: dict[str, Any] = {}
        for program in self.loyalty.programs_of(profile_id) if profile_id else []:
            # Tentative balances are the main ledger's (a subledger's pending points are not shown).
            mine = [
                p
                for p in planned
                if p.rule.program_id == program.id and p.card is None and not p.rule.subledger_id
            ]
            info, subs = self.loyalty.ledger_info(
                program,
                self.loyalty.ledger(program.id, profile_id=profile_id),
                now,
                active=sum(p.amount for p in mine if not p.rule.awaits_activation),
                pending=sum(p.amount for p in mine if p.rule.awaits_activation),
            )
            entry: dict[str, Any] = {
                "id": program.id,
                "title": program.title,
                "name": program.name,
                "ledger": info,
                "subLedgers": subs,
            }
            if profile_id in program.members:
                entry["joinDate"] = iso(program.members[profile_id])
            programs[str(program.id)] = entry
        out: dict[str, Any] = {"programs": programs}
        card_list = [self.loyalty.card_json(c, now) for c in cards]
        if card_list:
            out["cards"] = card_list
        return out

    def delete_customer_data(self, integration_id: str) -> None:
        """Erase the attributes of the profile and of everything that references it."""
        profile = self._existing_profile(integration_id)
        profile.attributes = {}
        owned = {k for k, s in self.sessions.items() if s.profile_id == integration_id}
        for key in owned:
            session = self.sessions[key]
            session.attributes = {}
            for item in session.cart_items:
                item.pop("attributes", None)
        for event in self.events:
            if event.profile_id == integration_id or event.session_id in owned:
                event.attributes = {}
        for referral in self.referrals.values():
            if integration_id in (referral.advocate, referral.friend):
                referral.attributes = {}
        for coupon in self.coupons.values():
            if coupon.recipient_integration_id == integration_id:
                coupon.attributes = {}

    # -- loyalty -------------------------------------------------------------------------------

    def join(self, program_id: int, integration_id: str, now: datetime) -> None:
        program = self.loyalty.program(program_id, "profile")
        if integration_id in program.members:
            raise bad_request(
                f"Customer profile {integration_id!r} already joined loyalty program {program_id}"
            )
        self._touch_profile(integration_id, now)
        program.members[integration_id] = now

    def profile_ledger(
        self, program_id: int, integration_id: str
    ) -> tuple[LoyaltyProgram, list[LedgerEntry]]:
        program = self.loyalty.program(program_id, "profile")
        self._existing_profile(integration_id)
        return program, self.loyalty.ledger(program_id, profile_id=integration_id)

    def activate(self, program_id: int, body: Mapping[str, Any], now: datetime) -> list[LedgerEntry]:
        self.loyalty.program(program_id)
        session_id, uuids = body.get("sessionId"), body.get("transactionUUIDs")
        if (session_id is None) == (uuids is None):
            raise bad_request("Send either 'sessionId' or 'transactionUUIDs'")
        pending = [
            e
            for e in self.loyalty.entries
            if e.program_id == program_id
            and e.type == "addition"
            and e.awaits_activation
            and e.remaining > 0
            and (e.session_id == session_id if session_id is not None else e.uuid in (uuids or []))
        ]
        if not pending:
            raise not_found("No pending points to activate for this session or these transactions")
        for entry in pending:
            entry.awaits_activation = False
            entry.activated = now
            entry.start = now
        return pending

    def delete_transactions(self, program_id: int, integration_id: str, body: Mapping[str, Any]) -> None:
        program, _ = self.profile_ledger(program_id, integration_id)
        if body["scope"] == "SelectedSubledgers":
            selected = body.get("subledgerIds") or []
            if not selected:
                raise bad_request("scope SelectedSubledgers needs subledgerIds", "/subledgerIds")
            unknown = [s for s in selected if s not in program.subledgers]
            if unknown:
                raise bad_request(
                    f"Loyalty program {program_id} has no subledger {unknown[0]!r}", "/subledgerIds"
                )
        else:
            selected = None  # every subledger, the main ledger included
        self.loyalty.entries = [
            e
            for e in self.loyalty.entries
            if not (e.program_id == program_id and e.profile_id == integration_id)
            or (selected is not None and e.subledger_id not in selected)
        ]

    def generate_card(self, program_id: int, body: Mapping[str, Any], now: datetime) -> LoyaltyCard:
        program = self.loyalty.programs.get(program_id)
        # generateLoyaltyCard documents no 404: an unknown program is a bad request.
        if program is None or program.kind != "card":
            raise bad_request(
                f"Loyalty program {program_id} is not a card-based program", "/path/loyaltyProgramId"
            )
        profiles = list(dict.fromkeys(body.get("customerProfileIds", [])))
        limit = program.users_per_card_limit
        if limit and len(profiles) > limit:
            raise bad_request(
                f"Loyalty program {program_id} allows {limit} profiles per card", "/customerProfileIds"
            )
        for n, profile_id in enumerate(profiles):
            if profile_id not in self.profiles:
                raise bad_request(
                    f"Customer profile {profile_id!r} does not exist", f"/customerProfileIds/{n}"
                )
        card = self.loyalty.new_card(program, body.get("cardIdentifier"), now)
        card.status = body.get("status", "active")
        card.profiles = dict.fromkeys(profiles, now)
        return card

    # -- campaigns -----------------------------------------------------------------------------

    def running_campaigns(self, query: Mapping[str, Any], now: datetime) -> tuple[list[Campaign], bool]:
        """integrationGetAllCampaigns: running campaigns filtered, then one page of them."""
        found = [c for c in self.campaigns.values() if c.is_running(now)]
        if "campaignIds" in query:
            wanted = set(query["campaignIds"])
            found = [c for c in found if str(c.id) in wanted]
        if "startAfter" in query:
            found = [c for c in found if (c.start_time or c.created) >= query["startAfter"]]
        if "startBefore" in query:
            found = [c for c in found if (c.start_time or c.created) <= query["startBefore"]]
        # A campaign without an end never ends: it ends after any date, and before none.
        if "endAfter" in query:
            found = [c for c in found if c.end_time is None or c.end_time >= query["endAfter"]]
        if "endBefore" in query:
            found = [c for c in found if c.end_time is not None and c.end_time <= query["endBefore"]]
        if "storeId" in query:
            found = [c for c in found if query["storeId"] in c.linked_store_ids]
        if "audienceId" in query:
            found = [c for c in found if query["audienceId"] in c.linked_audience_ids]
        skip = max(query.get("skip", 0), 0)
        size = query.get("pageSize", 50)
        return found[skip : skip + size], len(found) > skip + size

    # -- read access for tests ---------------------------------------------------------------

    def snapshot(self, now: datetime) -> dict[str, Any]:
        """Everything, in wire format, as a deep copy (renderings share values with the state)."""
        return copy.deepcopy(self._snapshot(now))

    def _snapshot(self, now: datetime) -> dict[str, Any]:
        book = self.loyalty
        return {
            "profiles": {k: self.profile_json(p) for k, p in self.profiles.items()},
            "sessions": {
                k: {**s.to_v2_json(self.ctx), "discounts": dict(s.discounts), "total": s.total}
                for k, s in self.sessions.items()
            },
            "events": [e.to_json(self.ctx) for e in self.events],
            "coupons": {k: c.to_json() for k, c in self.coupons.items()},
            "referrals": {k: r.to_json() for k, r in self.referrals.items()},
            "reservations": {k: list(c.holders) for k, c in self.coupons.items() if c.holders},
            "campaigns": {str(k): c.to_json(self.ctx, now) for k, c in self.campaigns.items()},
            "loyalty": {
                "programs": {
                    str(p.id): {"id": p.id, "name": p.name, "type": p.kind, "members": sorted(p.members)}
                    for p in book.programs.values()
                },
                "cards": {
                    f"{c.program_id}/{c.identifier}": book.card_json(c, now) for c in book.cards.values()
                },
                "transactions": [
                    {
                        **e.transaction_json(),
                        "profileId": e.profile_id,
                        "remaining": e.remaining,
                        "awaitsActivation": e.awaits_activation,
                    }
                    for e in book.entries
                ],
            },
            "audiences": {
                str(a.id): {**a.to_json(self.ctx), "members": list(a.members)}
                for a in self.audiences.audiences.values()
            },
            "catalogs": {
                str(c.id): {
                    **c.to_json(self.ctx),
                    "items": {
                        sku: {
                            "id": i.id,
                            "sku": sku,
                            "price": i.price,
                            "attributes": copy.deepcopy(i.attributes),
                        }
                        for sku, i in c.items.items()
                    },
                }
                for c in self.catalogs.catalogs.values()
            },
            "achievements": {
                str(a.id): {
                    **a.status_entry_json("", now),
                    "progress": {p: [r.to_json(now) for r in runs] for p, runs in a.runs.items()},
                }
                for a in self.achievements.values()
            },
            "v3_events": {k: e.to_v3_json(self.ctx) for k, e in self.v3_events.items()},
        }
