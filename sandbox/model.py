"""The sandbox's core entities and their wire (camelCase) representations.

Each entity renders today's schema (``to_json``) and, where a legacy 2020 operation returns
it, the 2020 one (``to_legacy_json``). Both read the same state. Renderings share nested
values with the state: they are encoded under the app's lock (snapshots copy them).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

SessionState = Literal["open", "closed", "partially_returned", "cancelled"]
Trigger = Literal["coupon", "referral", "event", "session"]

# Go's zero time: what Talon.One puts in the `session` of a profile update, which has none.
ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)

# Today's CouponRejectionReason enum (event meta) lacks the reasons that only effect props carry.
CURRENT_COUPON_REASONS = frozenset(
    {
        "CouponNotFound",
        "CouponPartOfNotRunningCampaign",
        "CampaignLimitReached",
        "ProfileLimitReached",
        "CouponRecipientDoesNotMatch",
        "CouponExpired",
        "CouponStartDateInFuture",
        "CouponRejectedByCondition",
        "EffectCouldNotBeApplied",
        "CouponPartOfNotTriggeredCampaign",
        "CouponReservationRequired",
        "ProfileRequired",
    }
)
# The 2020 document has no reservation requirement: a non-holder was a non-matching recipient.
LEGACY_REASONS = {"CouponReservationRequired": "CouponRecipientDoesNotMatch"}


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix (microseconds only when present)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def money(amount: float) -> float:
    """Drop binary floating-point noise (19.99 * 3) without assuming a currency's precision."""
    return float(round(amount, 6))


def points(amount: float) -> float:
    """Loyalty points keep two decimals, as Talon.One's programs do by default."""
    return float(round(amount, 2))


@dataclass(frozen=True, slots=True)
class Context:
    """Identifiers that every entity echoes."""

    application_id: int
    account_id: int
    user_id: int


@dataclass(frozen=True, slots=True)
class Discount:
    kind: Literal["percent", "fixed"]
    value: float

    def amount(self, base: float) -> float:
        """Percent of ``base``, or the fixed value capped at ``base`` (never negative)."""
        raw = base * self.value / 100 if self.kind == "percent" else min(self.value, base)
        return round(max(raw, 0.0), 2)


@dataclass(frozen=True, slots=True)
class LoyaltyRule:
    """``addLoyaltyPoints``: ``perUnit`` points per unit of the cart item total, plus ``fixed``."""

    program_id: int
    per_unit: float = 0.0
    fixed: float = 0.0
    subledger_id: str = ""
    awaits_activation: bool = False
    expiry_days: int | None = None

    def amount(self, cart_item_total: float) -> float:
        return points(max(cart_item_total, 0.0) * self.per_unit + self.fixed)


@dataclass(frozen=True, slots=True)
class Rule:
    """The one rule of a seeded campaign: what triggers it and what it gives."""

    name: str
    trigger: Trigger
    discount: Discount | None = None
    event_type: str | None = None
    notification: dict[str, str] | None = None
    loyalty: LoyaltyRule | None = None


@dataclass(slots=True)
class Campaign:
    id: int
    name: str
    description: str
    state: Literal["enabled", "disabled", "archived"]
    created: datetime
    ruleset_id: int
    rule: Rule
    start_time: datetime | None = None
    end_time: datetime | None = None
    tags: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    coupon_settings: dict[str, Any] | None = None
    referral_settings: dict[str, Any] | None = None
    referral_usage_limit: int = 0
    reevaluate_on_return: bool = False
    linked_store_ids: list[int] = field(default_factory=list)
    linked_audience_ids: list[int] = field(default_factory=list)
    coupon_redemption_count: int = 0
    referral_redemption_count: int = 0
    last_activity: datetime | None = None

    def is_running(self, now: datetime, *, ignore_state: bool = False) -> bool:
        """Enabled and within its schedule; ``ignore_state`` is the dry run's evaluableCampaignIds."""
        started = self.start_time is None or self.start_time <= now
        ended = self.end_time is not None and self.end_time <= now
        enabled = self.state == "enabled" or (ignore_state and self.state != "archived")
        return enabled and started and not ended

    def frontend_state(self, now: datetime) -> str:
        if self.state != "enabled":
            return self.state
        if self.start_time is not None and self.start_time > now:
            return "scheduled"
        if self.end_time is not None and self.end_time <= now:
            return "expired"
        return "running"

    def _base_json(self, ctx: Context) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "created": iso(self.created),
            "applicationId": ctx.application_id,
            "userId": ctx.user_id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes,
            "state": self.state,
            "activeRulesetId": self.ruleset_id,
            "tags": list(self.tags),
            "features": list(self.features),
            "limits": [],
            "couponRedemptionCount": self.coupon_redemption_count,
            "referralRedemptionCount": self.referral_redemption_count,
        }
        if self.start_time is not None:
            out["startTime"] = iso(self.start_time)
        if self.end_time is not None:
            out["endTime"] = iso(self.end_time)
        if self.coupon_settings is not None:
            out["couponSettings"] = self.coupon_settings
        if self.referral_settings is not None:
            out["referralSettings"] = self.referral_settings
        return out

    def to_json(self, ctx: Context, now: datetime) -> dict[str, Any]:
        """Today's Campaign (triggeredCampaigns)."""
        out = self._base_json(ctx)
        out.update(
            {
                "reevaluateOnReturn": self.reevaluate_on_return,
                "type": "advanced",
                "budgets": [],
                "frontendState": self.frontend_state(now),
                "storesImported": False,
            }
        )
        if self.linked_store_ids:
            out["linkedStoreIds"] = list(self.linked_store_ids)
        if self.last_activity is not None:
            out["lastActivity"] = iso(self.last_activity)
        return out

    def to_legacy_json(self, ctx: Context) -> dict[str, Any]:
        return self._base_json(ctx)

    def to_integration_json(self, ctx: Context) -> dict[str, Any]:
        """IntegrationCampaign, as listed by integrationGetAllCampaigns (running campaigns only)."""
        out: dict[str, Any] = {
            "id": self.id,
            "applicationId": ctx.application_id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes,
            "state": "enabled",
            "tags": list(self.tags),
            # IntegrationCampaign's enum has no advancedEvents.
            "features": [f for f in self.features if f != "advancedEvents"],
            "rules": [{"title": self.rule.name}],
            "linkedStoreIds": list(self.linked_store_ids),
            "linkedAudienceIds": list(self.linked_audience_ids),
        }
        if self.start_time is not None:
            out["startTime"] = iso(self.start_time)
        if self.end_time is not None:
            out["endTime"] = iso(self.end_time)
        return out


@dataclass(slots=True)
class Coupon:
    id: int
    created: datetime
    campaign_id: int
    value: str
    usage_limit: int = 0  # 0 = unlimited
    usage_counter: int = 0
    start_date: datetime | None = None
    expiry_date: datetime | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    recipient_integration_id: str | None = None
    # Today's meaning: true = can be reserved by many customers; false = a personal code (one holder).
    reservation: bool = True
    # Only holders may redeem it (a "hard" reservation).
    is_reservation_mandatory: bool = False
    holders: dict[str, datetime] = field(default_factory=dict)  # integration id → reserved at
    redemptions: dict[str, int] = field(default_factory=dict)  # profile → times redeemed

    def to_json(self, profile_id: str | None = None) -> dict[str, Any]:
        """Today's Coupon; with ``profile_id``, IntegrationCoupon's ``profileRedemptionCount`` too."""
        out = self.to_legacy_json()
        out["reservation"] = self.reservation
        out["isReservationMandatory"] = self.is_reservation_mandatory
        out["reservationCounter"] = len(self.holders)
        out["implicitlyReserved"] = False
        if profile_id is not None:
            out["profileRedemptionCount"] = self.redemptions.get(profile_id, 0)
        return out

    def to_legacy_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "created": iso(self.created),
            "campaignId": self.campaign_id,
            "value": self.value,
            "usageLimit": self.usage_limit,
            "usageCounter": self.usage_counter,
            "attributes": self.attributes,
            # 2020 meaning: false = only holders may use the coupon.
            "reservation": not self.is_reservation_mandatory,
        }
        if self.start_date is not None:
            out["startDate"] = iso(self.start_date)
        if self.expiry_date is not None:
            out["expiryDate"] = iso(self.expiry_date)
        if self.recipient_integration_id is not None:
            out["recipientIntegrationId"] = self.recipient_integration_id
        return out


@dataclass(slots=True)
class Referral:
    id: int
    created: datetime
    campaign_id: int
    advocate: str
    code: str
    usage_limit: int = 0  # 0 = unlimited
    usage_counter: int = 0
    friend: str | None = None
    start_date: datetime | None = None
    expiry_date: datetime | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    batch_id: str | None = None
    referred: list[str] = field(default_factory=list)  # friends who redeemed it

    def to_json(self, *, inventory: bool = False) -> dict[str, Any]:
        """Today's Referral; ``inventory`` adds InventoryReferral's ``referredCustomers``."""
        out: dict[str, Any] = {
            "id": self.id,
            "created": iso(self.created),
            "campaignId": self.campaign_id,
            "advocateProfileIntegrationId": self.advocate,
            "code": self.code,
            "usageCounter": self.usage_counter,
            "usageLimit": self.usage_limit,
            "attributes": self.attributes,
        }
        if self.friend is not None:
            out["friendProfileIntegrationId"] = self.friend
        if self.start_date is not None:
            out["startDate"] = iso(self.start_date)
        if self.expiry_date is not None:
            out["expiryDate"] = iso(self.expiry_date)
        if self.batch_id is not None:
            out["batchId"] = self.batch_id
        if inventory:
            out["referredCustomers"] = list(dict.fromkeys(self.referred))
        return out


@dataclass(slots=True)
class Profile:
    integration_id: str
    created: datetime
    last_activity: datetime
    id: int = 0
    attributes: dict[str, Any] = field(default_factory=dict)
    closed_sessions: int = 0
    total_sales: float = 0.0

    def to_json(self, ctx: Context, audiences: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Today's CustomerProfile; ``audiences`` are its AudienceMemberships."""
        out = self.to_legacy_json(ctx)
        out["id"] = self.id
        out["audienceMemberships"] = list(audiences or [])
        return out

    def to_legacy_json(self, ctx: Context) -> dict[str, Any]:
        return {
            "integrationId": self.integration_id,
            "created": iso(self.created),
            "attributes": self.attributes,
            "accountId": ctx.account_id,
            "closedSessions": self.closed_sessions,
            "totalSales": money(self.total_sales),
            "lastActivity": iso(self.last_activity),
        }


@dataclass(slots=True)
class LoyaltyAward:
    """Points a closed session added: rolled back by cancel, reopen and (partly) returns."""

    program_id: int
    transaction_uuid: str
    amount: float
    subledger_id: str
    recipient: str
    card: str | None
    campaign_id: int
    rolled_back: float = 0.0


@dataclass(slots=True)
class Redemption:
    """What closing a session redeemed, so that cancelling it can roll exactly that back."""

    coupons: list[str]
    referral: str | None
    effects: list[dict[str, Any]]
    total: float
    cart_item_total: float = 0.0
    loyalty: list[LoyaltyAward] = field(default_factory=list)
    returned_total: float = 0.0  # value of the items returned since the close
    achievements: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Return:
    id: int
    created: datetime
    session_id: int
    session_integration_id: str
    profile_id: int | None
    profile_integration_id: str
    event_id: int
    items: list[dict[str, Any]]

    def to_json(self, ctx: Context) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "created": iso(self.created),
            "applicationId": ctx.application_id,
            "accountId": ctx.account_id,
            "returnedCartItems": self.items,
            "eventId": self.event_id,
            "sessionId": self.session_id,
            "sessionIntegrationId": self.session_integration_id,
            "profileIntegrationId": self.profile_integration_id,
        }
        if self.profile_id is not None:
            out["profileId"] = self.profile_id
        return out


@dataclass(slots=True)
class Session:
    integration_id: str
    created: datetime
    profile_id: str  # "" = anonymous
    first_session: bool
    id: int = 0
    state: SessionState = "open"
    coupon_codes: list[str] = field(default_factory=list)
    referral_code: str = ""
    cart_items: list[dict[str, Any]] = field(default_factory=list)
    additional_costs: dict[str, dict[str, Any]] = field(default_factory=dict)
    identifiers: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    store_integration_id: str | None = None
    loyalty_cards: list[str] = field(default_factory=list)
    experiment_variant_allocations: list[dict[str, Any]] = field(default_factory=list)
    # A v1 update may state the total itself; a v2 update clears it (v2 totals are computed).
    stated_total: float | None = None
    discounts: dict[str, float] = field(default_factory=dict)
    redemption: Redemption | None = None
    update_count: int = 0
    updated: datetime | None = None
    effects: list[dict[str, Any]] = field(default_factory=list)  # of the last evaluation
    returns: list[Return] = field(default_factory=list)

    @property
    def cart_item_total(self) -> float:
        return money(sum(float(i.get("price", 0)) * int(i["quantity"]) for i in self.cart_items))

    @property
    def additional_cost_total(self) -> float:
        return money(sum(float(c["price"]) for c in self.additional_costs.values()))

    @property
    def cart_item_additional_cost_total(self) -> float:
        """Item-level additional costs, counted per unit."""
        return money(
            sum(
                float(c["price"]) * int(i["quantity"])
                for i in self.cart_items
                for c in i.get("additionalCosts", {}).values()
            )
        )

    @property
    def computed_total(self) -> float:
        return money(self.cart_item_total + self.additional_cost_total + self.cart_item_additional_cost_total)

    @property
    def total(self) -> float:
        return self.computed_total if self.stated_total is None else self.stated_total

    @property
    def discount_base(self) -> float:
        """Discounts apply to the cart; a v1 session with a stated total but no items uses that."""
        if not self.cart_items and self.stated_total is not None:
            return self.stated_total
        return self.cart_item_total

    def clone(self) -> Session:
        """A copy whose containers can change without touching this session (values are shared)."""
        return replace(
            self,
            coupon_codes=list(self.coupon_codes),
            cart_items=[dict(i) for i in self.cart_items],
            additional_costs=dict(self.additional_costs),
            identifiers=list(self.identifiers),
            attributes=dict(self.attributes),
            loyalty_cards=list(self.loyalty_cards),
            experiment_variant_allocations=list(self.experiment_variant_allocations),
            discounts=dict(self.discounts),
            redemption=copy.deepcopy(self.redemption),
            effects=list(self.effects),
            returns=list(self.returns),
        )

    def content(self) -> tuple[Any, ...]:
        """Everything an update can change except state and owner (to detect changes)."""
        return (
            self.coupon_codes,
            self.referral_code,
            [
                {k: v for k, v in i.items() if k not in ("returnedQuantity", "remainingQuantity")}
                for i in self.cart_items
            ],
            self.additional_costs,
            self.identifiers,
            self.attributes,
            self.stated_total,
            self.store_integration_id,
            self.loyalty_cards,
            self.experiment_variant_allocations,
        )

    def to_v1_json(self, ctx: Context) -> dict[str, Any]:
        """The 2020 CustomerSession: three states, one coupon, items with a name and a price."""
        items = []
        for item in self.cart_items:
            legacy = {k: v for k, v in item.items() if k not in ("returnedQuantity", "remainingQuantity")}
            legacy.setdefault("name", item["sku"])
            legacy.setdefault("price", 0)
            items.append(legacy)
        return {
            "integrationId": self.integration_id,
            "created": iso(self.created),
            "applicationId": ctx.application_id,
            "profileId": self.profile_id,
            # v1 has a single coupon: the first of the codes a v2 update may have set.
            "coupon": self.coupon_codes[0] if self.coupon_codes else "",
            "referral": self.referral_code,
            "state": "closed" if self.state == "partially_returned" else self.state,
            "cartItems": items,
            "identifiers": list(self.identifiers),
            "total": self.total,
            "attributes": self.attributes,
            "firstSession": self.first_session,
            "discounts": dict(self.discounts),
        }

    def to_v2_json(self, ctx: Context) -> dict[str, Any]:
        """Today's CustomerSessionV2."""
        out: dict[str, Any] = {
            "id": self.id,
            "integrationId": self.integration_id,
            "created": iso(self.created),
            "applicationId": ctx.application_id,
            "profileId": self.profile_id,
            "couponCodes": list(self.coupon_codes),
            "referralCode": self.referral_code,
            "loyaltyCards": list(self.loyalty_cards),
            "state": self.state,
            "cartItems": self.cart_items,
            "additionalCosts": self.additional_costs,
            "identifiers": list(self.identifiers),
            "attributes": self.attributes,
            "firstSession": self.first_session,
            "total": self.computed_total,
            "cartItemTotal": self.cart_item_total,
            "additionalCostTotal": self.additional_cost_total,
            "cartItemAdditionalCostTotal": self.cart_item_additional_cost_total,
            "updateCount": self.update_count,
            "updated": iso(self.updated or self.created),
        }
        if self.store_integration_id is not None:
            out["storeIntegrationId"] = self.store_integration_id
        if self.experiment_variant_allocations:
            out["experimentVariantAllocations"] = self.experiment_variant_allocations
        return out


def legacy_effects(effects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Effects with the 2020 rejection reasons (a legacy operation's answer)."""
    out = []
    for original in effects:
        props = original.get("props")
        reason = props.get("rejectionReason") if isinstance(props, dict) else None
        if isinstance(props, dict) and reason in LEGACY_REASONS:
            out.append({**original, "props": {**props, "rejectionReason": LEGACY_REASONS[reason]}})
        else:
            out.append(original)
    return out


@dataclass(slots=True)
class Event:
    id: int
    created: datetime
    type: str
    profile_id: str
    session_id: str | None
    attributes: dict[str, Any]
    effects: list[dict[str, Any]]
    meta: dict[str, Any] | None = None
    integration_id: str | None = None  # v3 events only
    connected_session_id: str | None = None
    store_integration_id: str | None = None

    def _meta(self, legacy: bool) -> dict[str, Any] | None:
        if self.meta is None:
            return None
        meta = copy.deepcopy(self.meta)
        rejection = meta.get("couponRejectionReason")
        if rejection is not None:
            if legacy:
                rejection["reason"] = LEGACY_REASONS.get(rejection["reason"], rejection["reason"])
            elif rejection["reason"] not in CURRENT_COUPON_REASONS:
                # e.g. CouponLimitReached: an effect reason today's meta enum does not list.
                del meta["couponRejectionReason"]
        return meta

    def _common(self, ctx: Context) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "created": iso(self.created),
            "applicationId": ctx.application_id,
            "profileId": self.profile_id,
            "type": self.type,
            "attributes": self.attributes,
        }
        if self.store_integration_id is not None:
            out["storeIntegrationId"] = self.store_integration_id
        return out

    def to_json(self, ctx: Context) -> dict[str, Any]:
        """Today's Event."""
        out = self._common(ctx)
        out["effects"] = list(self.effects)
        out["ledgerEntries"] = []
        if self.session_id is not None:
            out["sessionId"] = self.session_id
        if self.integration_id is not None:
            out["integrationId"] = self.integration_id
        meta = self._meta(legacy=False)
        if meta:
            out["meta"] = meta
        return out

    def to_v3_json(self, ctx: Context) -> dict[str, Any]:
        """EventV3, the advanced event."""
        out = self._common(ctx)
        out["effects"] = list(self.effects)
        if self.integration_id is not None:
            out["integrationId"] = self.integration_id
        if self.connected_session_id is not None:
            out["connectedSessionId"] = self.connected_session_id
        return out

    def to_legacy_json(self, ctx: Context) -> dict[str, Any]:
        out = self._common(ctx)
        out.pop("storeIntegrationId", None)
        out["effects"] = legacy_effects(self.effects)
        out["ledgerEntries"] = []
        if self.session_id is not None:
            out["sessionId"] = self.session_id
        meta = self._meta(legacy=True)
        if meta is not None:
            out["meta"] = meta
        return out
