"""Loyalty programs, cards and ledgers: points added by closed sessions, rolled back, activated.

A ledger is the list of a profile's (profile-based program) or a card's (card-based program)
transactions. Each addition is a bucket of points whose ``remaining`` amount goes down when a
rollback subtracts from it; balances are computed from the buckets at a given moment.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sandbox.errors import ApiError, bad_request, not_found
from sandbox.model import iso, points

ProgramKind = Literal["profile", "card"]
TransactionKind = Literal["session", "manual", "import"]
DEFAULT_CARD_CHARACTERS = tuple("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")


@dataclass(frozen=True, slots=True)
class Tier:
    id: int
    name: str
    min_points: float


@dataclass(slots=True)
class LoyaltyProgram:
    id: int
    name: str
    title: str
    kind: ProgramKind
    description: str = ""
    subledgers: list[str] = field(default_factory=list)
    tiers: list[Tier] = field(default_factory=list)  # by ascending min_points
    users_per_card_limit: int = 0  # 0 = unlimited
    card_pattern: str = "CARD-####-####"
    card_characters: tuple[str, ...] = DEFAULT_CARD_CHARACTERS
    members: dict[str, datetime] = field(default_factory=dict)  # profile → joined

    def tier_info(self, active: float) -> dict[str, Any]:
        """currentTier, pointsToNextTier and nextTierName for an active balance (none without tiers)."""
        if not self.tiers:
            return {}
        current = [t for t in self.tiers if t.min_points <= active]
        upcoming = [t for t in self.tiers if t.min_points > active]
        out: dict[str, Any] = {}
        if current:
            out["currentTier"] = {"id": current[-1].id, "name": current[-1].name}
        if upcoming:
            out["pointsToNextTier"] = points(upcoming[0].min_points - active)
            out["nextTierName"] = upcoming[0].name
        return out


@dataclass(slots=True)
class LoyaltyCard:
    id: int
    identifier: str
    program_id: int
    created: datetime
    status: str = "active"
    block_reason: str | None = None
    profiles: dict[str, datetime] = field(default_factory=dict)  # integration id → linked at
    modified: datetime | None = None
    batch_id: str | None = None


@dataclass(slots=True)
class LedgerEntry:
    """One transaction; an addition is also a bucket of points (``remaining``)."""

    id: int
    uuid: str
    created: datetime
    program_id: int
    type: Literal["addition", "subtraction"]
    name: str
    amount: float
    subledger_id: str = ""
    profile_id: str | None = None  # profile-based ledger
    card: str | None = None  # card-based ledger (identifier)
    session_id: str = ""
    kind: TransactionKind = "session"
    start: datetime | None = None  # None: active on creation (or on activation)
    expiry: datetime | None = None  # None: never expires
    awaits_activation: bool = False
    activated: datetime | None = None
    ruleset_id: int | None = None
    rule_name: str | None = None
    remaining: float = 0.0
    recipient: str = ""  # the profile the points were earned by (card ledgers included)

    def status(self, at: datetime) -> Literal["active", "pending", "expired"]:
        if self.expiry is not None and self.expiry <= at:
            return "expired"
        if self.awaits_activation or (self.start is not None and self.start > at):
            return "pending"
        return "active"

    def start_text(self) -> str:
        if self.awaits_activation:
            return "on_action"
        return "immediate" if self.start is None else iso(self.start)

    def expiry_text(self) -> str:
        return "unlimited" if self.expiry is None else iso(self.expiry)

    def transaction_json(self) -> dict[str, Any]:
        """LedgerTransactionLogEntryIntegrationAPI (plus cardIdentifier on card ledgers)."""
        out: dict[str, Any] = {
            "id": self.id,
            "transactionUUID": self.uuid,
            "created": iso(self.created),
            "programId": self.program_id,
            "customerSessionId": self.session_id,
            "type": self.type,
            "name": self.name,
            "startDate": self.start_text(),
            "expiryDate": self.expiry_text(),
            "subledgerId": self.subledger_id,
            "amount": self.amount,
        }
        if self.card is not None:
            out["cardIdentifier"] = self.card
        if self.ruleset_id is not None:
            out["rulesetId"] = self.ruleset_id
        if self.rule_name is not None:
            out["ruleName"] = self.rule_name
        return out

    def points_json(self) -> dict[str, Any]:
        """LedgerPointsEntryIntegrationAPI: what is left of an addition."""
        out: dict[str, Any] = {
            "id": self.id,
            "transactionUUID": self.uuid,
            "created": iso(self.created),
            "programId": self.program_id,
            "customerSessionId": self.session_id,
            "name": self.name,
            "startDate": self.start_text(),
            "expiryDate": self.expiry_text(),
            "subledgerId": self.subledger_id,
            "amount": self.remaining,
        }
        if self.card is not None:
            out["customerProfileID"] = self.recipient
        return out

    def ledger_entry_json(self, user_id: int) -> dict[str, Any]:
        """LoyaltyLedgerEntry (activateLoyaltyPoints)."""
        out: dict[str, Any] = {
            "created": iso(self.created),
            "programID": self.program_id,
            "customerProfileID": self.recipient,
            "customerSessionID": self.session_id,
            "type": self.type,
            "amount": self.remaining,
            "name": self.name,
            "subLedgerID": self.subledger_id,
            "userID": user_id,
            "archived": False,
        }
        if self.activated is not None:
            out["startDate"] = iso(self.activated)
        if self.expiry is not None:
            out["expiryDate"] = iso(self.expiry)
        return out


@dataclass(slots=True)
class Balance:
    active: float = 0.0
    pending: float = 0.0
    expired: float = 0.0
    spent: float = 0.0

    def add(self, entry: LedgerEntry, at: datetime) -> None:
        status = entry.status(at)
        if status == "active":
            self.active += entry.remaining
        elif status == "pending":
            self.pending += entry.remaining
        else:
            self.expired += entry.remaining

    def to_json(self) -> dict[str, Any]:
        """LoyaltyBalance."""
        return {
            "activePoints": points(self.active),
            "pendingPoints": points(self.pending),
            "spentPoints": points(self.spent),
            "expiredPoints": points(self.expired),
            "negativePoints": 0.0,
        }

    def ledger_info(self, tentative_active: float = 0.0, tentative_pending: float = 0.0) -> dict[str, Any]:
        """LoyaltyProgramBalance; tentative = this balance plus an open session's pending effects."""
        return {
            "currentBalance": points(self.active),
            "pendingBalance": points(self.pending),
            "negativeBalance": 0.0,
            # Deprecated in today's schema: "Value is shown as 0".
            "expiredBalance": 0.0,
            "spentBalance": 0.0,
            "tentativeCurrentBalance": points(self.active + tentative_active),
            "tentativePendingBalance": points(self.pending + tentative_pending),
            "tentativeNegativeBalance": 0.0,
        }


class LoyaltyBook:
    """Programs, cards and every ledger transaction."""

    def __init__(self, programs: Iterable[LoyaltyProgram], cards: Iterable[LoyaltyCard]) -> None:
        self.programs: dict[int, LoyaltyProgram] = {p.id: p for p in programs}
        self.cards: dict[tuple[int, str], LoyaltyCard] = {(c.program_id, c.identifier): c for c in cards}
        self.entries: list[LedgerEntry] = []
        self._last_card_id = max([c.id for c in self.cards.values()] + [0])

    # -- lookups -------------------------------------------------------------------------------

    def program(self, program_id: int, kind: ProgramKind | None = None) -> LoyaltyProgram:
        program = self.programs.get(program_id)
        if program is None:
            raise not_found(f"Loyalty program {program_id} does not exist")
        if kind is not None and program.kind != kind:
            other = "card-based" if program.kind == "card" else "profile-based"
            raise bad_request(f"Loyalty program {program_id} is {other}", "/path/loyaltyProgramId")
        return program

    def card(self, program_id: int, identifier: str) -> LoyaltyCard:
        self.program(program_id, "card")
        card = self.cards.get((program_id, identifier))
        if card is None:
            raise not_found(f"Loyalty card {identifier!r} does not exist in program {program_id}")
        return card

    def cards_of(self, profile_id: str, program_id: int | None = None) -> list[LoyaltyCard]:
        return [
            c
            for c in self.cards.values()
            if profile_id in c.profiles and (program_id is None or c.program_id == program_id)
        ]

    def ledger(
        self, program_id: int, *, profile_id: str | None = None, card: str | None = None
    ) -> list[LedgerEntry]:
        if card is not None:
            return [e for e in self.entries if e.program_id == program_id and e.card == card]
        return [e for e in self.entries if e.program_id == program_id and e.profile_id == profile_id]

    def programs_of(self, profile_id: str) -> list[LoyaltyProgram]:
        """Profile-based programs the profile joined or earned points in."""
        earned = {e.program_id for e in self.entries if e.profile_id == profile_id}
        return [
            p
            for p in self.programs.values()
            if p.kind == "profile" and (profile_id in p.members or p.id in earned)
        ]

    # -- balances ------------------------------------------------------------------------------

    @staticmethod
    def balances(entries: Iterable[LedgerEntry], at: datetime) -> dict[str, Balance]:
        """Balance per subledger ("" is the main ledger)."""
        out: dict[str, Balance] = {"": Balance()}
        for entry in entries:
            # As of ``at``: the additions made by then, with what is left of them now.
            if entry.type == "addition" and entry.created <= at:
                out.setdefault(entry.subledger_id, Balance()).add(entry, at)
        return out

    def ledger_info(
        self,
        program: LoyaltyProgram,
        entries: list[LedgerEntry],
        at: datetime,
        *,
        active: float = 0.0,
        pending: float = 0.0,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """LedgerInfo of the main ledger and of each subledger; ``active``/``pending`` are an
        open session's points, shown in the tentative balances only."""
        balances = self.balances(entries, at)
        for name in program.subledgers:
            balances.setdefault(name, Balance())
        main = balances.pop("")
        info = {**main.ledger_info(active, pending), **program.tier_info(main.active)}
        subs = {name: {**b.ledger_info(), **program.tier_info(b.active)} for name, b in balances.items()}
        return info, subs

    # -- changes -------------------------------------------------------------------------------

    def add(self, entry: LedgerEntry) -> LedgerEntry:
        entry.remaining = entry.amount if entry.type == "addition" else 0.0
        self.entries.append(entry)
        return entry

    def next_entry_id(self) -> int:
        return len(self.entries) + 1

    def find(self, transaction_uuid: str) -> LedgerEntry | None:
        return next((e for e in self.entries if e.uuid == transaction_uuid and e.type == "addition"), None)

    def new_card(self, program: LoyaltyProgram, identifier: str | None, now: datetime) -> LoyaltyCard:
        if identifier is None:
            for _ in range(1000):
                candidate = "".join(
                    secrets.choice(program.card_characters) if ch == "#" else ch
                    for ch in program.card_pattern
                )
                if (program.id, candidate) not in self.cards:
                    identifier = candidate
                    break
            else:
                raise bad_request(f"Loyalty program {program.id} has no unused card identifier left")
        elif (program.id, identifier) in self.cards:
            raise bad_request(
                f"Loyalty card {identifier!r} already exists in program {program.id}", "/cardIdentifier"
            )
        self._last_card_id += 1
        card = LoyaltyCard(self._last_card_id, identifier, program.id, created=now, modified=now)
        self.cards[(program.id, identifier)] = card
        return card

    def card_json(self, card: LoyaltyCard, at: datetime) -> dict[str, Any]:
        """LoyaltyCard with its ledger and subledgers."""
        program = self.programs[card.program_id]
        info, subs = self.ledger_info(program, self.ledger(program.id, card=card.identifier), at)
        out: dict[str, Any] = {
            "id": card.id,
            "created": iso(card.created),
            "programID": program.id,
            "programName": program.name,
            "programTitle": program.title,
            "status": card.status,
            "identifier": card.identifier,
            "usersPerCardLimit": program.users_per_card_limit,
            "profiles": [{"integrationId": k, "timestamp": iso(v)} for k, v in card.profiles.items()],
            "ledger": info,
            "subledgers": subs,
            "modified": iso(card.modified or card.created),
        }
        if card.block_reason is not None:
            out["blockReason"] = card.block_reason
        if card.batch_id is not None:
            out["batchId"] = card.batch_id
        return out

    def link(self, card: LoyaltyCard, profile_id: str, now: datetime) -> None:
        if profile_id in card.profiles:
            return
        limit = self.programs[card.program_id].users_per_card_limit
        if limit and len(card.profiles) >= limit:
            raise bad_request(
                f"Loyalty card {card.identifier!r} already has the {limit} profiles its program allows",
                "/integrationId",
            )
        card.profiles[profile_id] = now
        card.modified = now

    def unlink(self, card: LoyaltyCard, profile_id: str, now: datetime) -> None:
        if profile_id not in card.profiles:
            raise ApiError(
                404,
                f"Customer profile {profile_id!r} is not linked to loyalty card {card.identifier!r}",
            )
        del card.profiles[profile_id]
        card.modified = now


def expiry_after(start: datetime, days: int | None) -> datetime | None:
    return None if days is None else start + timedelta(days=days)
