"""Campaign evaluation: which coupons and referrals a session gets, as Talon.One effects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.model import Campaign, Coupon, Referral, Session


def effect(campaign: Campaign | None, effect_type: str, props: dict[str, Any]) -> dict[str, Any]:
    """The spec's Effect; an unknown code belongs to no campaign (ids 0, empty rule name)."""
    return {
        "campaignId": campaign.id if campaign else 0,
        "rulesetId": campaign.ruleset_id if campaign else 0,
        "ruleIndex": 0,
        "ruleName": campaign.rule.name if campaign else "",
        "effectType": effect_type,
        "props": props,
    }


def coupon_rejection(
    coupon: Coupon | None, campaign: Campaign | None, profile_id: str, now: datetime
) -> str | None:
    """A CouponRejectionReason, or None when ``profile_id`` may use the coupon right now."""
    if coupon is None or campaign is None:
        return "CouponNotFound"
    # In Talon.One's order of precedence: the first failing check names the reason.
    checks = (
        (not campaign.is_running(now), "CouponPartOfNotRunningCampaign"),
        (coupon.start_date is not None and coupon.start_date > now, "CouponStartDateInFuture"),
        (coupon.expiry_date is not None and coupon.expiry_date <= now, "CouponExpired"),
        (bool(coupon.usage_limit) and coupon.usage_counter >= coupon.usage_limit, "CouponLimitReached"),
        (
            bool(coupon.recipient_integration_id) and coupon.recipient_integration_id != profile_id,
            "CouponRecipientDoesNotMatch",
        ),
        # reservation=false: the reservation is a requirement of usage, so only holders qualify.
        (not coupon.reservation and profile_id not in coupon.holders, "CouponRecipientDoesNotMatch"),
    )
    return next((reason for failed, reason in checks if failed), None)


def referral_rejection(
    referral: Referral | None, campaign: Campaign | None, profile_id: str, now: datetime
) -> str | None:
    """A ReferralRejectionReason, or None when ``profile_id`` may use the referral code now."""
    if referral is None or campaign is None:
        return "ReferralNotFound"
    checks = (
        (bool(profile_id) and referral.advocate == profile_id, "ReferralRecipientIdSameAsAdvocate"),
        (not campaign.is_running(now), "ReferralPartOfNotRunningCampaign"),
        (referral.start_date is not None and referral.start_date > now, "ReferralStartDateInFuture"),
        (referral.expiry_date is not None and referral.expiry_date <= now, "ReferralExpired"),
        (
            bool(referral.usage_limit) and referral.usage_counter >= referral.usage_limit,
            "ReferralLimitReached",
        ),
        (bool(referral.friend) and referral.friend != profile_id, "ReferralRecipientDoesNotMatch"),
    )
    return next((reason for failed, reason in checks if failed), None)


@dataclass(slots=True)
class Evaluation:
    effects: list[dict[str, Any]] = field(default_factory=list)
    accepted_coupons: list[Coupon] = field(default_factory=list)
    accepted_referral: Referral | None = None
    discounts: dict[str, float] = field(default_factory=dict)
    triggered: list[Campaign] = field(default_factory=list)
    meta: dict[str, Any] | None = None

    def trigger(self, campaign: Campaign) -> None:
        if campaign not in self.triggered:
            self.triggered.append(campaign)

    def discount(self, campaign: Campaign, base: float) -> None:
        if campaign.rule.discount is None:
            return
        amount = campaign.rule.discount.amount(base)
        self.discounts[campaign.rule.name] = amount
        self.effects.append(effect(campaign, "setDiscount", {"name": campaign.rule.name, "value": amount}))


def evaluate_session(
    session: Session,
    campaigns: Mapping[int, Campaign],
    coupons: Mapping[str, Coupon],
    referrals: Mapping[str, Referral],
    now: datetime,
) -> Evaluation:
    """Effects of the session's coupon codes (in order, duplicates once) and referral code."""
    result = Evaluation()
    meta: dict[str, Any] = {}
    used_campaigns: set[int] = set()
    for value in dict.fromkeys(session.coupon_codes):
        coupon = coupons.get(value)
        campaign = campaigns.get(coupon.campaign_id) if coupon else None
        rejected = coupon_rejection(coupon, campaign, session.profile_id, now)
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
            continue
        used_campaigns.add(campaign.id)
        result.accepted_coupons.append(coupon)
        result.trigger(campaign)
        result.effects.append(effect(campaign, "acceptCoupon", {"value": value}))
        result.discount(campaign, session.discount_base)
    if session.referral_code:
        code = session.referral_code
        referral = referrals.get(code)
        campaign = campaigns.get(referral.campaign_id) if referral else None
        rejected = referral_rejection(referral, campaign, session.profile_id, now)
        if rejected is not None or referral is None or campaign is None:
            reason = rejected or "ReferralNotFound"
            result.effects.append(
                effect(campaign, "rejectReferral", {"value": code, "rejectionReason": reason})
            )
            meta["referralRejectionReason"] = {
                "campaignId": campaign.id if campaign else 0,
                "referralId": referral.id if referral else 0,
                "reason": reason,
            }
        else:
            result.accepted_referral = referral
            result.trigger(campaign)
            result.effects.append(effect(campaign, "acceptReferral", {"value": code}))
            result.discount(campaign, session.discount_base)
    result.meta = meta or None
    return result


def evaluate_event(event_type: str, campaigns: Mapping[int, Campaign], now: datetime) -> Evaluation:
    """Effects of the running campaigns whose rule is triggered by ``event_type``."""
    result = Evaluation()
    for campaign in campaigns.values():
        rule = campaign.rule
        if rule.trigger != "event" or rule.event_type != event_type or not campaign.is_running(now):
            continue
        result.trigger(campaign)
        if rule.notification is not None:
            result.effects.append(effect(campaign, "showNotification", dict(rule.notification)))
    return result
