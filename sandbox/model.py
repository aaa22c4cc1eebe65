"""The sandbox's entities and their wire (camelCase) representation from the spec's schemas."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

SessionState = Literal["open", "closed", "cancelled"]

# Go's zero time: what Talon.One puts in the `session` of a profile update, which has none.
ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix (microseconds only when present)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def money(amount: float) -> float:
    """Drop binary floating-point noise (19.99 * 3) without assuming a currency's precision."""
    return float(round(amount, 6))


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
class Rule:
    """The one rule of a seeded campaign: what triggers it and what it gives."""

    name: str
    trigger: Literal["coupon", "referral", "event"]
    discount: Discount | None = None
    event_type: str | None = None
    notification: dict[str, str] | None = None


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
    coupon_redemption_count: int = 0
    referral_redemption_count: int = 0

    def is_running(self, now: datetime) -> bool:
        started = self.start_time is None or self.start_time <= now
        ended = self.end_time is not None and self.end_time <= now
        return self.state == "enabled" and started and not ended

    def to_json(self, ctx: Context) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "created": iso(self.created),
            "applicationId": ctx.application_id,
            "userId": ctx.user_id,
            "name": self.name,
            "description": self.description,
            "attributes": copy.deepcopy(self.attributes),
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
            out["couponSettings"] = copy.deepcopy(self.coupon_settings)
        if self.referral_settings is not None:
            out["referralSettings"] = copy.deepcopy(self.referral_settings)
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
    # Spec: true = a reservation only marks a favourite; false = only holders may use the coupon.
    reservation: bool = True
    holders: dict[str, datetime] = field(default_factory=dict)  # integration id → reserved at

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "created": iso(self.created),
            "campaignId": self.campaign_id,
            "value": self.value,
            "usageLimit": self.usage_limit,
            "usageCounter": self.usage_counter,
            "attributes": copy.deepcopy(self.attributes),
            "reservation": self.reservation,
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

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "created": iso(self.created),
            "campaignId": self.campaign_id,
            "advocateProfileIntegrationId": self.advocate,
            "code": self.code,
            "usageCounter": self.usage_counter,
            "usageLimit": self.usage_limit,
        }
        if self.friend is not None:
            out["friendProfileIntegrationId"] = self.friend
        if self.start_date is not None:
            out["startDate"] = iso(self.start_date)
        if self.expiry_date is not None:
            out["expiryDate"] = iso(self.expiry_date)
        return out


@dataclass(slots=True)
class Profile:
    integration_id: str
    created: datetime
    last_activity: datetime
    attributes: dict[str, Any] = field(default_factory=dict)
    closed_sessions: int = 0
    total_sales: float = 0.0

    def to_json(self, ctx: Context) -> dict[str, Any]:
        return {
            "integrationId": self.integration_id,
            "created": iso(self.created),
            "attributes": copy.deepcopy(self.attributes),
            "accountId": ctx.account_id,
            "closedSessions": self.closed_sessions,
            "totalSales": money(self.total_sales),
            "lastActivity": iso(self.last_activity),
        }


@dataclass(slots=True)
class Redemption:
    """What closing a session redeemed, so that cancelling it can roll exactly that back."""

    coupons: list[str]
    referral: str | None
    effects: list[dict[str, Any]]
    total: float


@dataclass(slots=True)
class Session:
    integration_id: str
    created: datetime
    profile_id: str  # "" = anonymous
    first_session: bool
    state: SessionState = "open"
    coupon_codes: list[str] = field(default_factory=list)
    referral_code: str = ""
    cart_items: list[dict[str, Any]] = field(default_factory=list)
    additional_costs: dict[str, dict[str, Any]] = field(default_factory=dict)
    identifiers: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    # A v1 update may state the total itself; a v2 update clears it (v2 totals are computed).
    stated_total: float | None = None
    discounts: dict[str, float] = field(default_factory=dict)
    redemption: Redemption | None = None

    @property
    def cart_item_total(self) -> float:
        return money(sum(float(i["price"]) * int(i["quantity"]) for i in self.cart_items))

    @property
    def additional_cost_total(self) -> float:
        return money(sum(float(c["price"]) for c in self.additional_costs.values()))

    @property
    def computed_total(self) -> float:
        return money(self.cart_item_total + self.additional_cost_total)

    @property
    def total(self) -> float:
        return self.computed_total if self.stated_total is None else self.stated_total

    @property
    def discount_base(self) -> float:
        """Discounts apply to the cart; a v1 session with a stated total but no items uses that."""
        if not self.cart_items and self.stated_total is not None:
            return self.stated_total
        return self.cart_item_total

    def content(self) -> tuple[Any, ...]:
        """Everything an update can change except state and owner (to detect changes)."""
        return (
            self.coupon_codes,
            self.referral_code,
            self.cart_items,
            self.additional_costs,
            self.identifiers,
            self.attributes,
            self.stated_total,
        )

    def to_v1_json(self, ctx: Context) -> dict[str, Any]:
        return {
            "integrationId": self.integration_id,
            "created": iso(self.created),
            "applicationId": ctx.application_id,
            "profileId": self.profile_id,
            # v1 has a single coupon: the first of the codes a v2 update may have set.
            "coupon": self.coupon_codes[0] if self.coupon_codes else "",
            "referral": self.referral_code,
            "state": self.state,
            "cartItems": copy.deepcopy(self.cart_items),
            "identifiers": list(self.identifiers),
            "total": self.total,
            "attributes": copy.deepcopy(self.attributes),
            "firstSession": self.first_session,
            "discounts": dict(self.discounts),
        }

    def to_v2_json(self, ctx: Context) -> dict[str, Any]:
        return {
            "integrationId": self.integration_id,
            "created": iso(self.created),
            "applicationId": ctx.application_id,
            "profileId": self.profile_id,
            "couponCodes": list(self.coupon_codes),
            "referralCode": self.referral_code,
            "state": self.state,
            "cartItems": copy.deepcopy(self.cart_items),
            "additionalCosts": copy.deepcopy(self.additional_costs),
            "identifiers": list(self.identifiers),
            "attributes": copy.deepcopy(self.attributes),
            "firstSession": self.first_session,
            "total": self.computed_total,
            "cartItemTotal": self.cart_item_total,
            "additionalCostTotal": self.additional_cost_total,
        }


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

    def to_json(self, ctx: Context) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "created": iso(self.created),
            "applicationId": ctx.application_id,
            "profileId": self.profile_id,
            "type": self.type,
            "attributes": copy.deepcopy(self.attributes),
            "effects": copy.deepcopy(self.effects),
            "ledgerEntries": [],
        }
        if self.session_id is not None:
            out["sessionId"] = self.session_id
        if self.meta is not None:
            out["meta"] = copy.deepcopy(self.meta)
        return out
