"""The sandbox's state and the business rules of Talon.One's Integration API.

Not thread-safe by itself: the server calls it under one lock. Every method validates first
and mutates last, so a refused request leaves no trace.
"""

from __future__ import annotations

import copy
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sandbox.errors import bad_request, not_found
from sandbox.model import (
    ZERO_TIME,
    Campaign,
    Context,
    Coupon,
    Event,
    Profile,
    Redemption,
    Referral,
    Session,
    SessionState,
    money,
)
from sandbox.rules import Evaluation, coupon_rejection, evaluate_event, evaluate_session
from sandbox.seed import Seed
from sandbox.spec import parse_datetime

SESSION_UPDATED = "talon_session_updated"
PROFILE_UPDATED = "talon_profile_updated"
RESERVED_EVENT_PREFIX = "talon_"
DEFAULT_CODE_CHARACTERS = tuple(string.ascii_uppercase + string.digits)
CODE_ATTEMPTS = 1000
REDEEMED_EFFECTS = frozenset({"acceptCoupon", "acceptReferral", "setDiscount"})


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
        )


@dataclass(frozen=True, slots=True)
class SessionOutcome:
    session: Session
    profile: Profile | None
    event: Event
    evaluation: Evaluation


class Store:
    def __init__(self, seed: Seed, application_id: int) -> None:
        self.ctx = Context(application_id, seed.account_id, seed.user_id)
        entities = seed.entities()
        self.campaigns: dict[int, Campaign] = {c.id: c for c in entities.campaigns}
        self.coupons: dict[str, Coupon] = {c.value: c for c in entities.coupons}
        self.referrals: dict[str, Referral] = {r.code: r for r in entities.referrals}
        self.profiles: dict[str, Profile] = {p.integration_id: p for p in entities.profiles}
        self.sessions: dict[str, Session] = {}
        self.events: list[Event] = []
        self._last_referral_id = max([r.id for r in entities.referrals] + [0])

    # -- helpers -----------------------------------------------------------------------------

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

    def _touch_profile(self, profile_id: str, now: datetime) -> Profile | None:
        """The profile, created empty on first use; None for anonymous sessions."""
        if not profile_id:
            return None
        profile = self.profiles.get(profile_id)
        if profile is None:
            profile = self.profiles[profile_id] = Profile(profile_id, created=now, last_activity=now)
        profile.last_activity = now
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
    ) -> Event:
        event = Event(
            id=len(self.events) + 1,
            created=now,
            type=event_type,
            profile_id=profile_id,
            session_id=session_id,
            attributes=copy.deepcopy(attributes),
            effects=copy.deepcopy(evaluation.effects),
            meta=evaluation.meta,
        )
        self.events.append(event)
        return event

    def anonymous_profile_json(self, now: datetime) -> dict[str, Any]:
        """v1 responses require a profile even for anonymous sessions: an empty one, not stored."""
        return Profile("", created=now, last_activity=now).to_json(self.ctx)

    def no_session_json(self, profile_id: str) -> dict[str, Any]:
        """v1 profile updates have no session but the response requires one: Go zero values."""
        return Session("", created=ZERO_TIME, profile_id=profile_id, first_session=False).to_v1_json(self.ctx)

    # -- sessions and events -----------------------------------------------------------------

    def update_session(self, session_id: str, patch: SessionPatch, now: datetime) -> SessionOutcome:
        existing = self.sessions.get(session_id)
        if existing is not None and existing.state == "cancelled":
            raise bad_request(
                f"Customer session {session_id!r} is cancelled and cannot be changed",
                f"{patch.pointer}/state",
                title="Invalid state transition",
            )
        owner = self._owner(existing, patch.profile_id, f"{patch.pointer}/profileId")
        current: SessionState = existing.state if existing else "open"
        target: SessionState = patch.state or current
        if current == "closed" and target == "open":
            raise bad_request(
                f"Customer session {session_id!r} is closed and cannot be reopened",
                f"{patch.pointer}/state",
                title="Invalid state transition",
            )
        merged = self._merge(existing, session_id, patch, owner, now)
        if existing is not None and current == "closed" and merged.content() != existing.content():
            raise bad_request(
                f"Customer session {session_id!r} is closed: it can only be cancelled",
                patch.pointer,
                title="Invalid state transition",
            )
        # Validation is over: commit.
        profile = self._touch_profile(owner, now)
        if current == "closed" and target == "cancelled":
            evaluation = Evaluation(effects=self._roll_back(merged, profile))
        elif current == "closed":
            evaluation = Evaluation()  # closed → closed without changes: an idempotent no-op
        elif target == "cancelled":
            evaluation = Evaluation()
            merged.discounts = {}
        else:
            evaluation = evaluate_session(merged, self.campaigns, self.coupons, self.referrals, now)
            merged.discounts = dict(evaluation.discounts)
            if target == "closed":
                self._redeem(merged, evaluation, profile)
        merged.state = target
        self.sessions[session_id] = merged
        event = self._record_event(
            SESSION_UPDATED,
            profile_id=owner,
            session_id=session_id,
            attributes={},
            evaluation=evaluation,
            now=now,
        )
        return SessionOutcome(merged, profile, event, evaluation)

    def _merge(
        self, existing: Session | None, session_id: str, patch: SessionPatch, owner: str, now: datetime
    ) -> Session:
        if existing is None:
            session = Session(session_id, created=now, profile_id=owner, first_session=True)
        else:
            session = copy.deepcopy(existing)
        if session.profile_id != owner or existing is None:
            session.profile_id = owner
            session.first_session = self._is_first_session(owner, session_id)
        if patch.coupon_codes is not None:
            session.coupon_codes = list(patch.coupon_codes)
        if patch.referral_code is not None:
            session.referral_code = patch.referral_code
        if patch.cart_items is not None:
            # `position` is "calculated internally": the index in the cart.
            session.cart_items = [{**copy.deepcopy(i), "position": n} for n, i in enumerate(patch.cart_items)]
        if patch.additional_costs is not None:
            session.additional_costs = copy.deepcopy(patch.additional_costs)
        if patch.identifiers is not None:
            session.identifiers = list(patch.identifiers)
        if patch.attributes is not None:
            # Shallow merge: sent keys replace, others stay (a key is never removed by omission).
            session.attributes = {**session.attributes, **copy.deepcopy(patch.attributes)}
        if patch.api == "v1" and patch.total is not None:
            session.stated_total = float(patch.total)
        elif patch.api == "v2" and (patch.cart_items is not None or patch.additional_costs is not None):
            session.stated_total = None  # v2 totals are computed from the cart
        return session

    def _redeem(self, session: Session, evaluation: Evaluation, profile: Profile | None) -> None:
        """Closing a session: count the accepted codes and the purchase."""
        for coupon in evaluation.accepted_coupons:
            coupon.usage_counter += 1
            self.campaigns[coupon.campaign_id].coupon_redemption_count += 1
        referral = evaluation.accepted_referral
        if referral is not None:
            referral.usage_counter += 1
            self.campaigns[referral.campaign_id].referral_redemption_count += 1
        total = session.total
        if profile is not None:
            profile.closed_sessions += 1
            profile.total_sales = money(profile.total_sales + total)
        session.redemption = Redemption(
            coupons=[c.value for c in evaluation.accepted_coupons],
            referral=referral.code if referral else None,
            effects=[e for e in evaluation.effects if e["effectType"] in REDEEMED_EFFECTS],
            total=total,
        )

    def _roll_back(self, session: Session, profile: Profile | None) -> list[dict[str, Any]]:
        """Cancelling a closed session undoes its redemption (rollbackCoupon/rollbackDiscount)."""
        redemption = session.redemption
        session.redemption = None
        session.discounts = {}
        if redemption is None:
            return []
        for value in redemption.coupons:
            if (coupon := self.coupons.get(value)) is not None:
                coupon.usage_counter = max(0, coupon.usage_counter - 1)
                campaign = self.campaigns[coupon.campaign_id]
                campaign.coupon_redemption_count = max(0, campaign.coupon_redemption_count - 1)
        if redemption.referral and (referral := self.referrals.get(redemption.referral)) is not None:
            referral.usage_counter = max(0, referral.usage_counter - 1)
            campaign = self.campaigns[referral.campaign_id]
            campaign.referral_redemption_count = max(0, campaign.referral_redemption_count - 1)
        if profile is not None:
            profile.closed_sessions = max(0, profile.closed_sessions - 1)
            profile.total_sales = money(profile.total_sales - redemption.total)
        effects = []
        for e in redemption.effects:
            if e["effectType"] == "acceptCoupon":
                effects.append({**e, "effectType": "rollbackCoupon", "props": {"value": e["props"]["value"]}})
            elif e["effectType"] == "setDiscount":
                effects.append({**e, "effectType": "rollbackDiscount", "props": dict(e["props"])})
        return effects

    def track_event(
        self,
        session_id: str,
        profile_id: str | None,
        event_type: str,
        attributes: dict[str, Any],
        now: datetime,
    ) -> tuple[Session, Profile | None, Event]:
        if event_type.startswith(RESERVED_EVENT_PREFIX):
            raise bad_request(f"Event type {event_type!r} is reserved", "/type", title="Invalid field")
        existing = self.sessions.get(session_id)
        owner = self._owner(existing, profile_id, "/profileId")
        if existing is None:
            session = Session(session_id, created=now, profile_id=owner, first_session=True)
            session.first_session = self._is_first_session(owner, session_id)
            self.sessions[session_id] = session
        else:
            session = existing
            if session.profile_id != owner:
                session.profile_id = owner
                session.first_session = self._is_first_session(owner, session_id)
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

    def update_profile(
        self, integration_id: str, attributes: dict[str, Any] | None, now: datetime
    ) -> tuple[Profile, Event]:
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

    # -- coupon reservations -----------------------------------------------------------------

    def _coupon(self, value: str) -> Coupon:
        coupon = self.coupons.get(value)
        if coupon is None:
            raise not_found(f"Coupon {value!r} does not exist")
        return coupon

    def reserve(self, value: str, integration_ids: list[str], now: datetime) -> Coupon:
        coupon = self._coupon(value)
        for integration_id in integration_ids:
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
            out.append(profile.to_json(self.ctx))
        return out

    # -- referrals, inventory, personal data -------------------------------------------------

    def _code_taken(self, code: str) -> bool:
        return code in self.referrals or code in self.coupons

    def create_referral(self, body: Mapping[str, Any], now: datetime) -> Referral:
        campaign = self.campaigns.get(body["campaignId"])
        if campaign is None:
            raise bad_request(f"Campaign {body['campaignId']} does not exist", "/campaignId")
        settings = campaign.referral_settings
        if settings is None:
            raise bad_request(f"Campaign {campaign.id} is not a referral campaign", "/campaignId")
        advocate: str = body["advocateProfileIntegrationId"]
        if not advocate:
            raise bad_request(
                "The advocate's integration id must not be empty", "/advocateProfileIntegrationId"
            )
        characters = settings.get("validCharacters") or DEFAULT_CODE_CHARACTERS
        pattern: str = settings["couponPattern"]
        for _ in range(CODE_ATTEMPTS):
            code = "".join(secrets.choice(characters) if ch == "#" else ch for ch in pattern)
            if not self._code_taken(code):
                break
        else:
            raise bad_request(f"Campaign {campaign.id} has no unused referral code left", "/campaignId")
        self._last_referral_id += 1
        referral = Referral(
            id=self._last_referral_id,
            created=now,
            campaign_id=campaign.id,
            advocate=advocate,
            code=code,
            usage_limit=campaign.referral_usage_limit,
            friend=body.get("friendProfileIntegrationId") or None,
            start_date=parse_datetime(body["startDate"]) if "startDate" in body else None,
            expiry_date=parse_datetime(body["expiryDate"]) if "expiryDate" in body else None,
        )
        self.referrals[code] = referral
        # The referral references its advocate, so the advocate's profile exists from now on.
        if advocate not in self.profiles:
            self._touch_profile(advocate, now)
        return referral

    def _profile(self, integration_id: str) -> Profile:
        profile = self.profiles.get(integration_id)
        if profile is None:
            raise not_found(f"Customer profile {integration_id!r} does not exist")
        return profile

    def inventory(self, integration_id: str, *, profile: bool, referrals: bool) -> dict[str, Any]:
        found = self._profile(integration_id)
        out: dict[str, Any] = {}
        if profile:
            out["profile"] = found.to_json(self.ctx)
        if referrals:
            out["referrals"] = [r.to_json() for r in self.referrals.values() if r.advocate == integration_id]
        return out

    def delete_customer_data(self, integration_id: str) -> None:
        """Erase attributes on the profile and everything referencing it (the rest stays)."""
        profile = self._profile(integration_id)
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

    # -- read access for tests ---------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "profiles": {k: p.to_json(self.ctx) for k, p in self.profiles.items()},
            "sessions": {
                k: {**s.to_v2_json(self.ctx), "discounts": dict(s.discounts), "total": s.total}
                for k, s in self.sessions.items()
            },
            "events": [e.to_json(self.ctx) for e in self.events],
            "coupons": {k: c.to_json() for k, c in self.coupons.items()},
            "referrals": {k: r.to_json() for k, r in self.referrals.items()},
            "reservations": {k: list(c.holders) for k, c in self.coupons.items() if c.holders},
            "campaigns": {str(k): c.to_json(self.ctx) for k, c in self.campaigns.items()},
        }
