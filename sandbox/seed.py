"""Seed data: what a sandbox starts (and resets) with.

Campaigns (with their coupons, referrals and achievements), profiles, loyalty programs (with
cards, members and ledger transactions), audiences and catalogs. The format is documented in
sandbox/README.md and enforced by SEED_SCHEMA plus cross-checks (unique ids and codes, coupons
only in coupon campaigns, loyalty rules naming a seeded program, seeded profiles only, ...).
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

from sandbox.achievements import Achievement, AchievementRun
from sandbox.audiences import Audience
from sandbox.catalog import Catalog, CatalogItem, PriceObservation
from sandbox.loyalty import DEFAULT_CARD_CHARACTERS, LedgerEntry, LoyaltyCard, LoyaltyProgram, Tier
from sandbox.model import Campaign, Coupon, Discount, LoyaltyRule, Profile, Referral, Rule
from sandbox.spec import FORMAT_CHECKER, json_pointer, parse_datetime

DEFAULT_SEED = Path(__file__).resolve().parent / "seed.json"
SEED_EPOCH = "2020-01-01T00:00:00Z"  # `created` of seeded entities that do not state one
# A fixed namespace, so seeded transactions keep the same UUIDs across resets.
_SEED_UUID_PREFIX = "00000000-0000-4000-8000-"

_DATE = {"type": "string", "format": "date-time"}
_ATTRS = {"type": "object"}
_ID = {"type": "integer", "minimum": 1}
_IDS = {"type": "array", "items": {"type": "string", "minLength": 1}}
_CODEGEN = {
    "type": "object",
    "required": ["validCharacters", "couponPattern"],
    "additionalProperties": False,
    "properties": {
        "validCharacters": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
        "couponPattern": {"type": "string", "minLength": 3, "pattern": "^[A-Za-z0-9._%+@#-]+$"},
    },
}
_FEATURES = [
    "coupons",
    "referrals",
    "loyalty",
    "giveaways",
    "strikethrough",
    "achievements",
    "advancedEvents",
]
_ACHIEVEMENT = {
    "type": "object",
    "required": ["id", "name", "title", "description", "target"],
    "additionalProperties": False,
    "properties": {
        "id": _ID,
        "name": {"type": "string", "pattern": "^[a-zA-Z]\\w+$"},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "target": {"type": "number", "exclusiveMinimum": 0},
        "period": {"type": "string"},
        "recurrencePolicy": {"enum": ["no_recurrence", "on_expiration", "on_completion"]},
        "activationPolicy": {"enum": ["user_action", "fixed_schedule"]},
        "fixedStartDate": _DATE,
        "endDate": _DATE,
        "allowRollbackAfterCompletion": {"type": "boolean"},
        "status": {"enum": ["active", "scheduled"]},
        "progressOn": {"enum": ["closedSession"]},
        "created": _DATE,
        "progress": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["profileId", "progress", "startDate"],
                "additionalProperties": False,
                "properties": {
                    "profileId": {"type": "string", "minLength": 1},
                    "progress": {"type": "number", "minimum": 0},
                    "status": {"enum": ["inprogress", "completed", "expired"]},
                    "startDate": _DATE,
                    "completionDate": _DATE,
                    "endDate": _DATE,
                },
            },
        },
    },
}
_LOYALTY_RULE = {
    "type": "object",
    "required": ["programId"],
    "additionalProperties": False,
    "properties": {
        "programId": _ID,
        "perUnit": {"type": "number", "minimum": 0},
        "fixed": {"type": "number", "minimum": 0},
        "subledgerId": {"type": "string"},
        "awaitsActivation": {"type": "boolean"},
        "expiryDays": {"type": "integer", "minimum": 1},
    },
}
_PROGRAM = {
    "type": "object",
    "required": ["id", "name", "title", "type"],
    "additionalProperties": False,
    "properties": {
        "id": _ID,
        "name": {"type": "string", "minLength": 1},
        "title": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "type": {"enum": ["profile", "card"]},
        "subledgers": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "tiers": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name", "minPoints"],
                "additionalProperties": False,
                "properties": {"id": _ID, "name": {"type": "string"}, "minPoints": {"type": "number"}},
            },
        },
        "usersPerCardLimit": {"type": "integer", "minimum": 0},
        "cardCodePattern": {"type": "string", "minLength": 4, "pattern": "^[A-Za-z0-9._%+@#-]+$"},
        "cardValidCharacters": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
        "members": _IDS,
        "cards": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["identifier"],
                "additionalProperties": False,
                "properties": {
                    "id": _ID,
                    "identifier": {"type": "string", "pattern": "^[A-Za-z0-9._%+@-]{4,108}$"},
                    "status": {"enum": ["active", "inactive"]},
                    "blockReason": {"type": "string"},
                    "profiles": _IDS,
                    "created": _DATE,
                },
            },
        },
        "transactions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["amount", "name"],
                "additionalProperties": False,
                "properties": {
                    "profileId": {"type": "string", "minLength": 1},
                    "cardIdentifier": {"type": "string", "minLength": 4},
                    "amount": {"type": "number", "exclusiveMinimum": 0},
                    "name": {"type": "string", "minLength": 1},
                    "subledgerId": {"type": "string"},
                    "created": _DATE,
                    "startDate": _DATE,
                    "expiryDate": _DATE,
                    "awaitsActivation": {"type": "boolean"},
                    "type": {"enum": ["manual", "import"]},
                },
            },
        },
    },
}
SEED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["campaigns"],
    "additionalProperties": False,
    "properties": {
        "description": {"type": "string"},
        "accountId": _ID,
        "userId": _ID,
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
                    "id": _ID,
                    "name": {"type": "string", "minLength": 1},
                    "description": {"type": "string"},
                    "state": {"enum": ["enabled", "disabled", "archived"]},
                    "created": _DATE,
                    "startTime": _DATE,
                    "endTime": _DATE,
                    "rulesetId": _ID,
                    "tags": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 50}},
                    "features": {"type": "array", "items": {"enum": _FEATURES}},
                    "attributes": _ATTRS,
                    "couponSettings": _CODEGEN,
                    "referralSettings": _CODEGEN,
                    "referralUsageLimit": {"type": "integer", "minimum": 0},
                    "reevaluateOnReturn": {"type": "boolean"},
                    "linkedStoreIds": {"type": "array", "items": _ID},
                    "linkedAudienceIds": {"type": "array", "items": _ID},
                    "rule": {
                        "type": "object",
                        "required": ["name", "trigger"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "trigger": {"enum": ["coupon", "referral", "event", "session"]},
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
                            "addLoyaltyPoints": _LOYALTY_RULE,
                        },
                    },
                    "coupons": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["value"],
                            "additionalProperties": False,
                            "properties": {
                                "id": _ID,
                                "value": {"type": "string", "minLength": 4},
                                "created": _DATE,
                                "usageLimit": {"type": "integer", "minimum": 0, "maximum": 999999},
                                "usageCounter": {"type": "integer", "minimum": 0},
                                "startDate": _DATE,
                                "expiryDate": _DATE,
                                "attributes": _ATTRS,
                                "recipientIntegrationId": {"type": "string"},
                                "reservation": {"type": "boolean"},
                                "isReservationMandatory": {"type": "boolean"},
                                "reservedBy": _IDS,
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
                                "id": _ID,
                                "code": {"type": "string", "minLength": 4},
                                "created": _DATE,
                                "advocateProfileIntegrationId": {"type": "string", "minLength": 1},
                                "friendProfileIntegrationId": {"type": "string", "minLength": 1},
                                "startDate": _DATE,
                                "expiryDate": _DATE,
                                "usageLimit": {"type": "integer", "minimum": 0},
                                "usageCounter": {"type": "integer", "minimum": 0},
                                "attributes": _ATTRS,
                            },
                        },
                    },
                    "achievements": {"type": "array", "items": _ACHIEVEMENT},
                },
            },
        },
        "loyaltyPrograms": {"type": "array", "items": _PROGRAM},
        "audiences": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name"],
                "additionalProperties": False,
                "properties": {
                    "id": _ID,
                    "name": {"type": "string", "minLength": 1},
                    "description": {"type": "string"},
                    "integration": {"type": "string"},
                    "integrationId": {"type": "string", "minLength": 1},
                    "created": _DATE,
                    "members": _IDS,
                },
            },
        },
        "catalogs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name"],
                "additionalProperties": False,
                "properties": {
                    "id": _ID,
                    "name": {"type": "string", "minLength": 1},
                    "description": {"type": "string"},
                    "created": _DATE,
                    "subscribedApplicationsIds": {"type": "array", "items": _ID},
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["sku"],
                            "additionalProperties": False,
                            "properties": {
                                "id": _ID,
                                "sku": {"type": "string", "minLength": 1},
                                "price": {"type": "number"},
                                "attributes": _ATTRS,
                                "product": {
                                    "type": "object",
                                    "required": ["name"],
                                    "properties": {"name": {"type": "string"}},
                                },
                                "priceHistory": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["price", "observedAt"],
                                        "additionalProperties": False,
                                        "properties": {
                                            "price": {"type": "number"},
                                            "observedAt": _DATE,
                                            "contextId": {"type": "string"},
                                        },
                                    },
                                },
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


def _required_date(value: str) -> datetime:
    moment = parse_datetime(value)
    assert moment is not None  # format already checked by SEED_SCHEMA
    return moment


def _created(item: Mapping[str, Any]) -> datetime:
    return _required_date(item.get("created", SEED_EPOCH))


@dataclass(frozen=True, slots=True)
class Entities:
    campaigns: list[Campaign]
    coupons: list[Coupon]
    referrals: list[Referral]
    profiles: list[Profile]
    programs: list[LoyaltyProgram]
    cards: list[LoyaltyCard]
    transactions: list[LedgerEntry]
    audiences: list[Audience]
    catalogs: list[Catalog]
    achievements: list[Achievement]


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

    def _unique(self, what: str, values: list[Any]) -> None:
        seen: set[Any] = set()
        for value in values:
            if value in seen:
                raise self._fail(f"duplicate {what} {value!r}")
            seen.add(value)

    def _cross_check(self) -> None:
        data = self.data
        campaigns = data["campaigns"]
        programs = {p["id"]: p for p in data.get("loyaltyPrograms", [])}
        profiles = {p["integrationId"] for p in data.get("profiles", [])}
        self._unique("campaign id", [c["id"] for c in campaigns])
        self._unique("profile integrationId", [p["integrationId"] for p in data.get("profiles", [])])
        self._unique("loyalty program id", list(programs))
        self._unique("audience id", [a["id"] for a in data.get("audiences", [])])
        self._unique("catalog id", [c["id"] for c in data.get("catalogs", [])])
        self._unique("achievement id", [a["id"] for c in campaigns for a in c.get("achievements", [])])
        # Coupon and referral codes share one namespace so generated codes never collide.
        self._unique(
            "code",
            [x["value"] for c in campaigns for x in c.get("coupons", [])]
            + [x["code"] for c in campaigns for x in c.get("referrals", [])],
        )
        self._unique("coupon id", [x["id"] for c in campaigns for x in c.get("coupons", []) if "id" in x])
        self._unique("referral id", [x["id"] for c in campaigns for x in c.get("referrals", []) if "id" in x])
        self._check_campaigns(campaigns, programs, profiles)
        self._check_programs(programs, profiles)
        for audience in data.get("audiences", []):
            self._profiles_exist(profiles, audience.get("members", []), f"audience {audience['id']}")
        for c in campaigns:
            for coupon in c.get("coupons", []):
                self._profiles_exist(profiles, coupon.get("reservedBy", []), f"coupon {coupon['value']!r}")
        for catalog in data.get("catalogs", []):
            self._unique(f"sku of catalog {catalog['id']}", [i["sku"] for i in catalog.get("items", [])])

    def _check_campaigns(
        self, campaigns: list[dict[str, Any]], programs: Mapping[int, Any], profiles: set[str]
    ) -> None:
        for c in campaigns:
            rule = c["rule"]
            trigger = rule["trigger"]
            if trigger == "event" and "eventType" not in rule:
                raise self._fail(f"campaign {c['id']}: an event rule needs eventType")
            if c.get("coupons") and trigger != "coupon":
                raise self._fail(f"campaign {c['id']}: coupons need a rule with trigger 'coupon'")
            if c.get("referrals") and trigger != "referral":
                raise self._fail(f"campaign {c['id']}: referrals need a rule with trigger 'referral'")
            if ("addLoyaltyPoints" in rule) != (trigger == "session"):
                raise self._fail(
                    f"campaign {c['id']}: trigger 'session' goes with addLoyaltyPoints, and only it"
                )
            loyalty = rule.get("addLoyaltyPoints")
            if loyalty is not None:
                program = programs.get(loyalty["programId"])
                if program is None:
                    raise self._fail(f"campaign {c['id']}: no loyalty program {loyalty['programId']}")
                subledger = loyalty.get("subledgerId", "")
                if subledger and subledger not in program.get("subledgers", []):
                    raise self._fail(
                        f"campaign {c['id']}: program {program['id']} has no subledger {subledger!r}"
                    )
            for achievement in c.get("achievements", []):
                self._profiles_exist(
                    profiles,
                    [p["profileId"] for p in achievement.get("progress", [])],
                    f"achievement {achievement['id']}",
                )

    def _check_programs(self, programs: Mapping[int, Any], profiles: set[str]) -> None:
        for program in programs.values():
            where = f"loyalty program {program['id']}"
            cards = [card["identifier"] for card in program.get("cards", [])]
            self._unique(f"card of {where}", cards)
            if cards and program["type"] != "card":
                raise self._fail(f"{where}: only card-based programs have cards")
            self._profiles_exist(profiles, program.get("members", []), where)
            for card in program.get("cards", []):
                self._profiles_exist(profiles, card.get("profiles", []), f"card {card['identifier']}")
                limit = program.get("usersPerCardLimit", 0)
                if limit and len(card.get("profiles", [])) > limit:
                    raise self._fail(f"card {card['identifier']}: more profiles than usersPerCardLimit")
            for entry in program.get("transactions", []):
                owner = entry.get("cardIdentifier") if program["type"] == "card" else entry.get("profileId")
                if owner is None or (program["type"] == "card" and owner not in cards):
                    kind = "a seeded cardIdentifier" if program["type"] == "card" else "a profileId"
                    raise self._fail(f"{where}: a transaction needs {kind}")
                if program["type"] == "profile":
                    self._profiles_exist(profiles, [owner], where)

    def _profiles_exist(self, profiles: set[str], ids: list[str], where: str) -> None:
        missing = [i for i in ids if i not in profiles]
        if missing:
            raise self._fail(f"{where}: {missing[0]!r} is not a seeded profile")

    # -- building state ------------------------------------------------------------------------

    def entities(self, application_id: int = 0) -> Entities:
        data = copy.deepcopy(self.data)
        campaigns: list[Campaign] = []
        coupons: list[Coupon] = []
        referrals: list[Referral] = []
        achievements: list[Achievement] = []
        next_coupon_id = max([x.get("id", 0) for c in data["campaigns"] for x in c.get("coupons", [])] + [0])
        next_referral_id = max(
            [x.get("id", 0) for c in data["campaigns"] for x in c.get("referrals", [])] + [0]
        )
        for c in data["campaigns"]:
            campaign = _campaign(c)
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
                        is_reservation_mandatory=x.get("isReservationMandatory", False),
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
                        attributes=x.get("attributes", {}),
                    )
                )
            achievements.extend(_achievement(campaign.id, a) for a in c.get("achievements", []))
        profiles = [
            Profile(
                integration_id=p["integrationId"],
                created=_created(p),
                last_activity=_created(p),
                id=index,
                attributes=p.get("attributes", {}),
            )
            for index, p in enumerate(data.get("profiles", []), start=1)
        ]
        programs, cards, transactions = _loyalty(data.get("loyaltyPrograms", []))
        audiences = [
            Audience(
                id=a["id"],
                name=a["name"],
                created=_created(a),
                description=a.get("description"),
                integration=a.get("integration"),
                integration_id=a.get("integrationId"),
                members=dict.fromkeys(a.get("members", []), _created(a)),
            )
            for a in data.get("audiences", [])
        ]
        catalogs = [_catalog(c, application_id) for c in data.get("catalogs", [])]
        return Entities(
            campaigns,
            coupons,
            referrals,
            profiles,
            programs,
            cards,
            transactions,
            audiences,
            catalogs,
            achievements,
        )


def _campaign(c: Mapping[str, Any]) -> Campaign:
    rule = c["rule"]
    discount = rule.get("discount")
    loyalty = rule.get("addLoyaltyPoints")
    return Campaign(
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
            loyalty=None
            if loyalty is None
            else LoyaltyRule(
                program_id=loyalty["programId"],
                per_unit=float(loyalty.get("perUnit", 0)),
                fixed=float(loyalty.get("fixed", 0)),
                subledger_id=loyalty.get("subledgerId", ""),
                awaits_activation=loyalty.get("awaitsActivation", False),
                expiry_days=loyalty.get("expiryDays"),
            ),
        ),
        start_time=_date(c.get("startTime")),
        end_time=_date(c.get("endTime")),
        tags=c.get("tags", []),
        features=c.get("features", []),
        attributes=c.get("attributes", {}),
        coupon_settings=c.get("couponSettings"),
        referral_settings=c.get("referralSettings"),
        referral_usage_limit=c.get("referralUsageLimit", 0),
        reevaluate_on_return=c.get("reevaluateOnReturn", False),
        linked_store_ids=c.get("linkedStoreIds", []),
        linked_audience_ids=c.get("linkedAudienceIds", []),
    )


def _achievement(campaign_id: int, a: Mapping[str, Any]) -> Achievement:
    achievement = Achievement(
        id=a["id"],
        campaign_id=campaign_id,
        name=a["name"],
        title=a["title"],
        description=a["description"],
        target=float(a["target"]),
        created=_created(a),
        recurrence_policy=a.get("recurrencePolicy", "no_recurrence"),
        activation_policy=a.get("activationPolicy", "fixed_schedule"),
        period=a.get("period"),
        fixed_start_date=_date(a.get("fixedStartDate")),
        end_date=_date(a.get("endDate")),
        allow_rollback=a.get("allowRollbackAfterCompletion", False),
        status=a.get("status", "active"),
        progress_on=a.get("progressOn"),
    )
    for run in a.get("progress", []):
        achievement.runs.setdefault(run["profileId"], []).append(
            AchievementRun(
                progress=float(run["progress"]),
                start=_required_date(run["startDate"]),
                status=run.get("status", "inprogress"),
                completion=_date(run.get("completionDate")),
                end=_date(run.get("endDate")),
            )
        )
    return achievement


def _loyalty(
    programs_data: list[dict[str, Any]],
) -> tuple[list[LoyaltyProgram], list[LoyaltyCard], list[LedgerEntry]]:
    programs: list[LoyaltyProgram] = []
    cards: list[LoyaltyCard] = []
    transactions: list[LedgerEntry] = []
    next_card_id = max([c.get("id", 0) for p in programs_data for c in p.get("cards", [])] + [0])
    for p in programs_data:
        program = LoyaltyProgram(
            id=p["id"],
            name=p["name"],
            title=p["title"],
            kind=p["type"],
            description=p.get("description", ""),
            subledgers=p.get("subledgers", []),
            tiers=sorted(
                (Tier(t["id"], t["name"], float(t["minPoints"])) for t in p.get("tiers", [])),
                key=lambda t: t.min_points,
            ),
            users_per_card_limit=p.get("usersPerCardLimit", 0),
            card_pattern=p.get("cardCodePattern", "CARD-####-####"),
            card_characters=tuple(p.get("cardValidCharacters", DEFAULT_CARD_CHARACTERS)),
            members=dict.fromkeys(p.get("members", []), _required_date(SEED_EPOCH)),
        )
        programs.append(program)
        for c in p.get("cards", []):
            if "id" not in c:
                next_card_id += 1
            created = _created(c)
            cards.append(
                LoyaltyCard(
                    id=c.get("id", next_card_id),
                    identifier=c["identifier"],
                    program_id=program.id,
                    created=created,
                    status=c.get("status", "active"),
                    block_reason=c.get("blockReason"),
                    profiles=dict.fromkeys(c.get("profiles", []), created),
                    modified=created,
                )
            )
        card_owner = {c["identifier"]: (c.get("profiles") or [""])[0] for c in p.get("cards", [])}
        for t in p.get("transactions", []):
            number = len(transactions) + 1
            card = t.get("cardIdentifier") if program.kind == "card" else None
            entry = LedgerEntry(
                id=number,
                uuid=f"{_SEED_UUID_PREFIX}{number:012d}",
                created=_created(t),
                program_id=program.id,
                type="addition",
                name=t["name"],
                amount=float(t["amount"]),
                subledger_id=t.get("subledgerId", ""),
                profile_id=None if card else t.get("profileId"),
                card=card,
                kind=t.get("type", "manual"),
                start=_date(t.get("startDate")),
                expiry=_date(t.get("expiryDate")),
                awaits_activation=t.get("awaitsActivation", False),
                remaining=float(t["amount"]),
                recipient=card_owner.get(card, "") if card else t.get("profileId", ""),
            )
            transactions.append(entry)
    return programs, cards, transactions


def _catalog(c: Mapping[str, Any], application_id: int) -> Catalog:
    created = _created(c)
    catalog = Catalog(
        id=c["id"],
        name=c["name"],
        description=c.get("description", ""),
        created=created,
        # A seeded catalog serves the sandbox's application unless the seed says otherwise.
        subscribed_application_ids=c.get("subscribedApplicationsIds", [application_id]),
        modified=created,
    )
    observation = 0
    for index, item in enumerate(c.get("items", []), start=1):
        sku = item["sku"]
        catalog.items[sku] = CatalogItem(
            id=item.get("id", c["id"] * 1000 + index),
            sku=sku,
            price=item.get("price"),
            created=created,
            attributes=item.get("attributes", {}),
            product=item.get("product"),
        )
        for point in item.get("priceHistory", []):
            observation += 1
            catalog.history.append(
                PriceObservation(
                    c["id"] * 1000 + observation,
                    sku,
                    float(point["price"]),
                    _required_date(point["observedAt"]),
                    (point["contextId"],) if point.get("contextId") else (),
                )
            )
    return catalog
