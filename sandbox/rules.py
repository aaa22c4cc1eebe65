"""Campaign evaluation: which coupons, referrals and loyalty points a session gets, as effects."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sandbox.model import Campaign, Coupon, LoyaltyRule, Referral, Session, iso
from sandbox.spec import new_uuid

# (recipient profile, card identifier or None) that a loyalty rule credits, or None: no target.
LoyaltyTarget = Callable[[LoyaltyRule, Session], tuple[str, str | None] | None]


def effect(
    campaign: Campaign | None, effect_type: str, props: dict[str, Any], coupon: Coupon | None = None
) -> dict[str, Any]:
    """Today's Effect; an unknown code belongs to no campaign (ids 0, empty rule name)."""
    out: dict[str, Any] = {
        "campaignId": campaign.id if campaign else 0,
        "rulesetId": campaign.ruleset_id if campaign else 0,
        "ruleIndex": 0,
        "ruleName": campaign.rule.name if campaign else "",
        "effectType": effect_type,
        "props": props,
    }
    if coupon is not None:
        out["triggeredByCoupon"] = coupon.id
    return out


def _evaluated(campaign: Campaign, now: datetime, evaluable: Collection[int] | None) -> bool:
    if evaluable is None:
        return campaign.is_running(now)
    # A dry run's evaluableCampaignIds: only those, "even if they are disabled".
    return campaign.id in evaluable and campaign.is_running(now, ignore_state=True)


def coupon_rejection(
    coupon: Coupon | None,
    campaign: Campaign | None,
    profile_id: str,
    now: datetime,
    evaluable: Collection[int] | None = None,
) -> str | None:
    """A rejectCoupon reason, or None when ``profile_id`` may use the coupon right now."""
    if coupon is None or campaign is None:
        return "CouponNotFound"
    if evaluable is not None and campaign.id not in evaluable:
        return "CouponPartOfNotTriggeredCampaign"
    # In Talon.One's order of precedence: the first failing check names the reason.
    checks = (
        (not _evaluated(campaign, now, evaluable), "CouponPartOfNotRunningCampaign"),
        (coupon.start_date is not None and coupon.start_date > now, "CouponStartDateInFuture"),
        (coupon.expiry_date is not None and coupon.expiry_date <= now, "CouponExpired"),
        (bool(coupon.usage_limit) and coupon.usage_counter >= coupon.usage_limit, "CouponLimitReached"),
        (
            bool(coupon.recipient_integration_id) and coupon.recipient_integration_id != profile_id,
            "CouponRecipientDoesNotMatch",
        ),
        (coupon.is_reservation_mandatory and profile_id not in coupon.holders, "CouponReservationRequired"),
    )
    return next((reason for failed, reason in checks if failed), None)


def referral_rejection(
    referral: Referral | None,
    campaign: Campaign | None,
    profile_id: str,
    now: datetime,
    evaluable: Collection[int] | None = None,
) -> str | None:
    """A ReferralRejectionReason, or None when ``profile_id`` may use the referral code now."""
    if referral is None or campaign is None:
        return "ReferralNotFound"
    if evaluable is not None and campaign.id not in evaluable:
        return "ReferralPartOfNotTriggeredCampaign"
    checks = (
        (bool(profile_id) and referral.advocate == profile_id, "ReferralRecipientIdSameAsAdvocate"),
        (not _evaluated(campaign, now, evaluable), "ReferralPartOfNotRunningCampaign"),
        (referral.start_date is not None and referral.start_date > now, "ReferralStartDateInFuture"),
        (referral.expiry_date is not None and referral.expiry_date <= now, "ReferralExpired"),
        (
            bool(referral.usage_limit) and referral.usage_counter >= referral.usage_limit,
            "ReferralLimitReached",
        ),
        (bool(referral.friend) and referral.friend != profile_id, "ReferralRecipientDoesNotMatch"),
    )
    return next((reason for failed, reason in checks if failed), None)


@dataclass(frozen=True, slots=True)
class PlannedPoints:
    """An addLoyaltyPoints effect: committed to the ledger when the session closes."""

    campaign: Campaign
    rule: LoyaltyRule
    amount: float
    recipient: str
    card: str | None
    transaction_uuid: str


@dataclass(slots=True)
class Evaluation:
    effects: list[dict[str, Any]] = field(default_factory=list)
    accepted_coupons: list[Coupon] = field(default_factory=list)
    accepted_referral: Referral | None = None
    discounts: dict[str, float] = field(default_factory=dict)
    triggered: list[Campaign] = field(default_factory=list)
    meta: dict[str, Any] | None = None
    loyalty: list[PlannedPoints] = field(default_factory=list)
    rule_failures: list[dict[str, Any]] = field(default_factory=list)

    def trigger(self, campaign: Campaign) -> None:
        if campaign not in self.triggered:
            self.triggered.append(campaign)

    def discount(self, campaign: Campaign, base: float, coupon: Coupon | None = None) -> None:
        if campaign.rule.discount is None:
            return
        amount = campaign.rule.discount.amount(base)
        self.discounts[campaign.rule.name] = amount
        props = {"name": campaign.rule.name, "value": amount}
        self.effects.append(effect(campaign, "setDiscount", props, coupon))

    def fail(self, campaign: Campaign | None, reason: str, **code: Any) -> None:
        """A RuleFailureReason for a code its campaign refused (unknown codes have no campaign)."""
        if campaign is None:
            return
        self.rule_failures.append(
            {
                "campaignID": campaign.id,
                "campaignName": campaign.name,
                "rulesetID": campaign.ruleset_id,
                "ruleIndex": 0,
                "ruleName": campaign.rule.name,
                "details": reason,
                **code,
            }
        )


def evaluate_session(
    session: Session,
    campaigns: Mapping[int, Campaign],
    coupons: Mapping[str, Coupon],
    referrals: Mapping[str, Referral],
    now: datetime,
    *,
    loyalty_target: LoyaltyTarget,
    closing: bool = False,
    evaluable: Collection[int] | None = None,
) -> Evaluation:
    """Effects of the session's coupon codes (in order, duplicates once), referral code and
    loyalty campaigns. ``closing`` gives the points their transaction ids."""
    result = Evaluation()
    meta: dict[str, Any] = {}
    _coupons(
        result, meta=meta, session=session, campaigns=campaigns, coupons=coupons, now=now, evaluable=evaluable
    )
    if session.referral_code:
        _referral(
            result,
            meta=meta,
            session=session,
            campaigns=campaigns,
            referrals=referrals,
            now=now,
            evaluable=evaluable,
        )
    for campaign in campaigns.values():
        if campaign.rule.trigger == "session" and _evaluated(campaign, now, evaluable):
            _loyalty(result, campaign, session, now, loyalty_target, closing=closing)
    result.meta = meta or None
    return result


def _coupons(
    result: Evaluation,
    *,
    meta: dict[str, Any],
    session: Session,
    campaigns: Mapping[int, Campaign],
    coupons: Mapping[str, Coupon],
    now: datetime,
    evaluable: Collection[int] | None,
) -> None:
    used_campaigns: set[int] = set()
    for value in dict.fromkeys(session.coupon_codes):
        coupon = coupons.get(value)
        campaign = campaigns.get(coupon.campaign_id) if coupon else None
        rejected = coupon_rejection(coupon, campaign, session.profile_id, now, evaluable)
        # Like Talon.One, a campaign accepts one coupon per session.
        if rejected is None and campaign is not None and campaign.id in used_campaigns:
            rejected = "CouponRejectedByCondition"
        if rejected is not None or coupon is None or campaign is None:
            reason = rejected or "CouponNotFound"
            result.effects.append(
                effect(campaign, "rejectCoupon", {"value": value, "rejectionReason": reason})
            )
            meta.setdefault(
                "couponRejectionReason",
                {
                    "campaignId": campaign.id if campaign else 0,
                    "couponId": coupon.id if coupon else 0,
                    "reason": reason,
                },
            )
            result.fail(campaign, reason, couponID=coupon.id if coupon else 0, couponValue=value)
            continue
        used_campaigns.add(campaign.id)
        result.accepted_coupons.append(coupon)
        result.trigger(campaign)
        result.effects.append(effect(campaign, "acceptCoupon", {"value": value}, coupon))
        result.discount(campaign, session.discount_base, coupon)


def _referral(
    result: Evaluation,
    *,
    meta: dict[str, Any],
    session: Session,
    campaigns: Mapping[int, Campaign],
    referrals: Mapping[str, Referral],
    now: datetime,
    evaluable: Collection[int] | None,
) -> None:
    code = session.referral_code
    referral = referrals.get(code)
    campaign = campaigns.get(referral.campaign_id) if referral else None
    rejected = referral_rejection(referral, campaign, session.profile_id, now, evaluable)
    if rejected is not None or referral is None or campaign is None:
        reason = rejected or "ReferralNotFound"
        result.effects.append(effect(campaign, "rejectReferral", {"value": code, "rejectionReason": reason}))
        meta["referralRejectionReason"] = {
            "campaignId": campaign.id if campaign else 0,
            "referralId": referral.id if referral else 0,
            "reason": reason,
        }
        result.fail(campaign, reason, referralID=referral.id if referral else 0, referralValue=code)
        return
    result.accepted_referral = referral
    result.trigger(campaign)
    result.effects.append(effect(campaign, "acceptReferral", {"value": code}))
    result.discount(campaign, session.discount_base)


def _loyalty(
    result: Evaluation,
    campaign: Campaign,
    session: Session,
    now: datetime,
    loyalty_target: LoyaltyTarget,
    *,
    closing: bool,
) -> None:
    """addLoyaltyPoints: shown on every evaluation, written to the ledger on close."""
    rule = campaign.rule.loyalty
    if rule is None:
        return
    target = loyalty_target(rule, session)
    amount = rule.amount(session.cart_item_total)
    if target is None or amount <= 0:
        return
    recipient, card = target
    planned = PlannedPoints(campaign, rule, amount, recipient, card, new_uuid() if closing else "")
    result.loyalty.append(planned)
    result.trigger(campaign)
    props: dict[str, Any] = {
        "name": campaign.rule.name,
        "programId": rule.program_id,
        "subLedgerId": rule.subledger_id,
        "value": amount,
        "desiredValue": amount,
        "recipientIntegrationId": recipient,
    }
    if closing:
        props["transactionUUID"] = planned.transaction_uuid
    if card is not None:
        props["cardIdentifier"] = card
    if rule.awaits_activation:
        props["startDate"] = "on_action"
    if rule.expiry_days is not None:
        props["expiryDate"] = iso(now + timedelta(days=rule.expiry_days))
    result.effects.append(effect(campaign, "addLoyaltyPoints", props))


def evaluate_event(
    event_type: str,
    campaigns: Mapping[int, Campaign],
    now: datetime,
    evaluable: Collection[int] | None = None,
) -> Evaluation:
    """Effects of the running campaigns whose rule is triggered by ``event_type``."""
    result = Evaluation()
    for campaign in campaigns.values():
        rule = campaign.rule
        if (
            rule.trigger != "event"
            or rule.event_type != event_type
            or not _evaluated(campaign, now, evaluable)
        ):
            continue
        result.trigger(campaign)
        if rule.notification is not None:
            result.effects.append(effect(campaign, "showNotification", dict(rule.notification)))
    return result
