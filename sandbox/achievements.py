"""Achievements of seeded campaigns and each customer's progress in them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sandbox.model import iso

RunStatus = Literal["inprogress", "completed", "expired"]
_PERIOD = re.compile(r"^(\d+(?:\.\d+)?)([smhDWMY])")
# Calendar units approximated: the sandbox only needs an end date for a run.
_UNITS = {"s": 1, "m": 60, "h": 3600, "D": 86400, "W": 7 * 86400, "M": 30 * 86400, "Y": 365 * 86400}


def period_length(period: str | None) -> timedelta | None:
    match = _PERIOD.match(period or "")
    if match is None:
        return None
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


@dataclass(slots=True)
class AchievementRun:
    """One attempt of a customer at an achievement (a recurring achievement has several)."""

    progress: float
    start: datetime
    status: RunStatus = "inprogress"
    completion: datetime | None = None
    end: datetime | None = None

    def status_at(self, now: datetime) -> RunStatus:
        if self.status == "inprogress" and self.end is not None and self.end <= now:
            return "expired"
        return self.status

    def to_json(self, now: datetime) -> dict[str, Any]:
        """AchievementProgress."""
        out: dict[str, Any] = {
            "status": self.status_at(now),
            "progress": self.progress,
            "startDate": iso(self.start),
        }
        if self.completion is not None:
            out["completionDate"] = iso(self.completion)
        if self.end is not None:
            out["endDate"] = iso(self.end)
        return out


@dataclass(slots=True)
class Achievement:
    id: int
    campaign_id: int
    name: str
    title: str
    description: str
    target: float
    created: datetime
    recurrence_policy: Literal["no_recurrence", "on_expiration", "on_completion"] = "no_recurrence"
    activation_policy: Literal["user_action", "fixed_schedule"] = "fixed_schedule"
    period: str | None = None
    fixed_start_date: datetime | None = None
    end_date: datetime | None = None
    allow_rollback: bool = False
    status: Literal["active", "scheduled"] = "active"
    progress_on: Literal["closedSession"] | None = None  # what makes progress (1 per closed session)
    runs: dict[str, list[AchievementRun]] = field(default_factory=dict)

    def current(self, profile_id: str) -> AchievementRun | None:
        runs = self.runs.get(profile_id)
        return runs[-1] if runs else None

    def _definition(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "target": self.target,
            "recurrencePolicy": self.recurrence_policy,
            "activationPolicy": self.activation_policy,
            "allowRollbackAfterCompletion": self.allow_rollback,
        }
        if self.period is not None:
            out["period"] = self.period
        if self.fixed_start_date is not None:
            out["fixedStartDate"] = iso(self.fixed_start_date)
        if self.end_date is not None:
            out["endDate"] = iso(self.end_date)
        return out

    def progress_json(self, profile_id: str, now: datetime) -> dict[str, Any]:
        run = self.current(profile_id)
        return run.to_json(now) if run is not None else {"status": "not_started", "progress": 0}

    def status_entry_json(self, profile_id: str, now: datetime) -> dict[str, Any]:
        """AchievementStatusEntry (getCustomerAchievements)."""
        return {
            "id": self.id,
            "created": iso(self.created),
            **self._definition(),
            "campaignId": self.campaign_id,
            "status": self.status,
            "currentProgress": self.progress_json(profile_id, now),
        }

    def customer_json(self, profile_id: str, now: datetime) -> dict[str, Any]:
        """CustomerAchievement (the achievements response content)."""
        return {"id": self.id, **self._definition(), "currentProgress": self.progress_json(profile_id, now)}

    def inventory_json(self, profile_id: str, now: datetime) -> dict[str, Any]:
        """AchievementProgressWithDefinition (the customer inventory)."""
        out = {
            **self.progress_json(profile_id, now),
            "achievementId": self.id,
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "campaignId": self.campaign_id,
            "target": self.target,
            "achievementRecurrencePolicy": self.recurrence_policy,
            "achievementActivationPolicy": self.activation_policy,
            "achievementAllowRollbackAfterCompletion": self.allow_rollback,
        }
        if self.fixed_start_date is not None:
            out["achievementFixedStartDate"] = iso(self.fixed_start_date)
        if self.end_date is not None:
            out["achievementEndDate"] = iso(self.end_date)
        return out

    def is_open(self, now: datetime) -> bool:
        started = self.fixed_start_date is None or self.fixed_start_date <= now
        ended = self.end_date is not None and self.end_date <= now
        return self.status == "active" and started and not ended

    def advance(self, profile_id: str, now: datetime) -> bool:
        """One step of progress; False when there is nothing to progress (completed, not recurring)."""
        run = self.current(profile_id)
        if run is None or run.status_at(now) != "inprogress":
            recurring = run is None or self.recurrence_policy != "no_recurrence"
            if not recurring:
                return False
            length = period_length(self.period)
            run = AchievementRun(0, now, end=None if length is None else now + length)
            self.runs.setdefault(profile_id, []).append(run)
        run.progress += 1
        if run.progress >= self.target:
            run.status, run.completion = "completed", now
        return True

    def retreat(self, profile_id: str) -> None:
        """Undo one step (a cancelled or reopened session); a completion only if rollback is allowed."""
        run = self.current(profile_id)
        if run is None or run.progress <= 0:
            return
        if run.status == "completed":
            if not self.allow_rollback:
                return
            run.status, run.completion = "inprogress", None
        run.progress -= 1
