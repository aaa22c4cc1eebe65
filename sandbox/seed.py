"""Seed data: the campaigns, coupons, referrals and profiles a sandbox starts (and resets) with.

The format is documented in sandbox/README.md and enforced by SEED_SCHEMA plus a few
cross-checks (unique ids and codes, coupons only in coupon campaigns, ...).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema

from sandbox.model import Campaign, Coupon, Discount, Profile, Referral, Rule
from sandbox.spec import FORMAT_CHECKER, json_pointer, parse_datetime

DEFAULT_SEED = Path(__file__).resolve().parent / "seed.json"
SEED_EPOCH = "2020-01-01T00:00:00Z"  # `created` of seeded entities that do not state one

_DATE = {"type": "string", "format": "date-time"}
_ATTRS = {"type": "object"}
_CODEGEN = {
    "type": "object",
    "required": ["validCharacters", "couponPattern"],
    "additionalProperties": False,
    "properties": {
        "validCharacters": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
        "couponPattern": {"type": "string", "minLength": 3},
    },
}
SEED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["campaigns"],
    "additionalProperties": False,
    "properties": {
        "description": {"type": "string"},
        "accountId": {"type": "integer", "minimum": 1},
        "userId": {"type": "integer", "minimum": 1},
        "profiles": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["integrationId"],
                "additionalProperties": False,
                "properties": {
                    "integrationId": {"type": "string", "minLength": 1},
                    "created": _DATE,
                    "attributes": _ATTRS,
                },
            },
        },
        "campaigns": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name", "rule"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "integer", "minimum": 1},
                    "name": {"type": "string", "minLength": 1},
                    "description": {"type": "string"},
                    "state": {"enum": ["enabled", "disabled", "archived"]},
                    "created": _DATE,
                    "startTime": _DATE,
                    "endTime": _DATE,
                    "rulesetId": {"type": "integer", "minimum": 1},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "features": {"type": "array", "items": {"type": "string"}},
                    "attributes": _ATTRS,
                    "couponSettings": _CODEGEN,
                    "referralSettings": _CODEGEN,
                    "referralUsageLimit": {"type": "integer", "minimum": 0},
                    "rule": {
                        "type": "object",
                        "required": ["name", "trigger"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "trigger": {"enum": ["coupon", "referral", "event"]},
                            "eventType": {"type": "string", "minLength": 1},
                            "discount": {
                                "type": "object",
                                "required": ["type", "value"],
                                "additionalProperties": False,
                                "properties": {
                                    "type": {"enum": ["percent", "fixed"]},
                                    "value": {"type": "number", "minimum": 0},
                                },
                            },
                            "notification": {
                                "type": "object",
                                "required": ["notificationType", "title", "body"],
                                "additionalProperties": False,
                                "properties": {
                                    "notificationType": {"type": "string"},
                                    "title": {"type": "string"},
                                    "body": {"type": "string"},
                                },
                            },
                        },
                    },
                    "coupons": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["value"],
                            "additionalProperties": False,
                            "properties": {
                                "id": {"type": "integer", "minimum": 1},
                                "value": {"type": "string", "minLength": 4},
                                "created": _DATE,
                                "usageLimit": {"type": "integer", "minimum": 0, "maximum": 999999},
                                "usageCounter": {"type": "integer", "minimum": 0},
                                "startDate": _DATE,
                                "expiryDate": _DATE,
                                "attributes": _ATTRS,
                                "recipientIntegrationId": {"type": "string"},
                                "reservation": {"type": "boolean"},
                                "reservedBy": {"type": "array", "items": {"type": "string", "minLength": 1}},
                            },
                        },
                    },
                    "referrals": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["code", "advocateProfileIntegrationId"],
                            "additionalProperties": False,
                            "properties": {
                                "id": {"type": "integer", "minimum": 1},
                                "code": {"type": "string", "minLength": 4},
                                "created": _DATE,
                                "advocateProfileIntegrationId": {"type": "string", "minLength": 1},
                                "friendProfileIntegrationId": {"type": "string", "minLength": 1},
                                "startDate": _DATE,
                                "expiryDate": _DATE,
                                "usageLimit": {"type": "integer", "minimum": 0},
                                "usageCounter": {"type": "integer", "minimum": 0},
                            },
                        },
                    },
                },
            },
        },
    },
}


class SeedError(ValueError):
    """The seed file is not valid; the message names the offending place."""


def _date(value: str | None) -> datetime | None:
    return None if value is None else parse_datetime(value)


def _created(item: Mapping[str, Any]) -> datetime:
    moment = parse_datetime(item.get("created", SEED_EPOCH))
    assert moment is not None  # format already checked by SEED_SCHEMA
    return moment


@dataclass(frozen=True, slots=True)
class Entities:
    campaigns: list[Campaign]
    coupons: list[Coupon]
    referrals: list[Referral]
    profiles: list[Profile]


class Seed:
    """A validated seed document; ``entities()`` builds fresh mutable state from it each reset."""

    def __init__(self, data: Mapping[str, Any], source: str = "<seed>") -> None:
        validator = jsonschema.Draft202012Validator(SEED_SCHEMA, format_checker=FORMAT_CHECKER)
        for error in validator.iter_errors(data):
            raise SeedError(f"{source}: {json_pointer(error.absolute_path) or '/'}: {error.message}")
        self.data: dict[str, Any] = copy.deepcopy(dict(data))
        self.source = source
        self._cross_check()

    @classmethod
    def load(cls, path: str | Path | None = None) -> Seed:
        location = Path(path) if path is not None else DEFAULT_SEED
        try:
            data = json.loads(location.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise SeedError(f"{location}: not valid JSON: {exc}") from None
        return cls(data, str(location))

    @property
    def account_id(self) -> int:
        return int(self.data.get("accountId", 1))

    @property
    def user_id(self) -> int:
        return int(self.data.get("userId", 1))

    def _fail(self, message: str) -> SeedError:
        return SeedError(f"{self.source}: {message}")

    def _cross_check(self) -> None:
        campaign_ids: set[int] = set()
        codes: set[str] = set()
        coupon_ids: set[int] = set()
        referral_ids: set[int] = set()
        for c in self.data["campaigns"]:
            if c["id"] in campaign_ids:
                raise self._fail(f"duplicate campaign id {c['id']}")
            campaign_ids.add(c["id"])
            trigger = c["rule"]["trigger"]
            if trigger == "event" and "eventType" not in c["rule"]:
                raise self._fail(f"campaign {c['id']}: an event rule needs eventType")
            if c.get("coupons") and trigger != "coupon":
                raise self._fail(f"campaign {c['id']}: coupons need a rule with trigger 'coupon'")
            if c.get("referrals") and trigger != "referral":
                raise self._fail(f"campaign {c['id']}: referrals need a rule with trigger 'referral'")
            # Coupon and referral codes share one namespace so generated codes never collide.
            for item, key, ids in [(x, "value", coupon_ids) for x in c.get("coupons", [])] + [
                (x, "code", referral_ids) for x in c.get("referrals", [])
            ]:
                if item[key] in codes:
                    raise self._fail(f"duplicate code {item[key]!r}")
                codes.add(item[key])
                if "id" in item:
                    if item["id"] in ids:
                        raise self._fail(f"duplicate id {item['id']} for {item[key]!r}")
                    ids.add(item["id"])
        profile_ids = [p["integrationId"] for p in self.data.get("profiles", [])]
        if len(profile_ids) != len(set(profile_ids)):
            raise self._fail("duplicate profile integrationId")

    def entities(self) -> Entities:
        data = copy.deepcopy(self.data)
        campaigns: list[Campaign] = []
        coupons: list[Coupon] = []
        referrals: list[Referral] = []
        next_coupon_id = max([x.get("id", 0) for c in data["campaigns"] for x in c.get("coupons", [])] + [0])
        next_referral_id = max(
            [x.get("id", 0) for c in data["campaigns"] for x in c.get("referrals", [])] + [0]
        )
        for c in data["campaigns"]:
            rule = c["rule"]
            discount = rule.get("discount")
            campaign = Campaign(
                id=c["id"],
                name=c["name"],
                description=c.get("description", ""),
                state=c.get("state", "enabled"),
                created=_created(c),
                ruleset_id=c.get("rulesetId", c["id"]),
                rule=Rule(
                    name=rule["name"],
                    trigger=rule["trigger"],
                    discount=Discount(discount["type"], float(discount["value"])) if discount else None,
                    event_type=rule.get("eventType"),
                    notification=rule.get("notification"),
                ),
                start_time=_date(c.get("startTime")),
                end_time=_date(c.get("endTime")),
                tags=c.get("tags", []),
                features=c.get("features", []),
                attributes=c.get("attributes", {}),
                coupon_settings=c.get("couponSettings"),
                referral_settings=c.get("referralSettings"),
                referral_usage_limit=c.get("referralUsageLimit", 0),
            )
            campaigns.append(campaign)
            for x in c.get("coupons", []):
                if "id" not in x:
                    next_coupon_id += 1
                created = _created(x)
                coupons.append(
                    Coupon(
                        id=x.get("id", next_coupon_id),
                        created=created,
                        campaign_id=campaign.id,
                        value=x["value"],
                        usage_limit=x.get("usageLimit", 0),
                        usage_counter=x.get("usageCounter", 0),
                        start_date=_date(x.get("startDate")),
                        expiry_date=_date(x.get("expiryDate")),
                        attributes=x.get("attributes", {}),
                        recipient_integration_id=x.get("recipientIntegrationId"),
                        reservation=x.get("reservation", True),
                        holders=dict.fromkeys(x.get("reservedBy", []), created),
                    )
                )
            for x in c.get("referrals", []):
                if "id" not in x:
                    next_referral_id += 1
                referrals.append(
                    Referral(
                        id=x.get("id", next_referral_id),
                        created=_created(x),
                        campaign_id=campaign.id,
                        advocate=x["advocateProfileIntegrationId"],
                        code=x["code"],
                        usage_limit=x.get("usageLimit", campaign.referral_usage_limit),
                        usage_counter=x.get("usageCounter", 0),
                        friend=x.get("friendProfileIntegrationId"),
                        start_date=_date(x.get("startDate")),
                        expiry_date=_date(x.get("expiryDate")),
                    )
                )
        profiles = [
            Profile(
                integration_id=p["integrationId"],
                created=_created(p),
                last_activity=_created(p),
                attributes=p.get("attributes", {}),
            )
            for p in data.get("profiles", [])
        ]
        return Entities(campaigns, coupons, referrals, profiles)
