"""Audiences and their members (customer profiles, by integration id)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.errors import conflict, not_found
from sandbox.model import Context, iso
from sandbox.spec import parse_datetime


@dataclass(slots=True)
class Audience:
    id: int
    name: str
    created: datetime
    description: str | None = None
    sandbox: bool | None = None
    subscribed_application_ids: list[int] | None = None
    integration: str | None = None
    integration_id: str | None = None
    created_in_3rd_party: bool | None = None
    last_update: datetime | None = None
    members: dict[str, datetime] = field(default_factory=dict)  # profile → joined at

    def to_json(self, ctx: Context) -> dict[str, Any]:
        out: dict[str, Any] = {"accountId": ctx.account_id, "id": self.id, "created": iso(self.created)}
        out["name"] = self.name
        optional = {
            "description": self.description,
            "sandbox": self.sandbox,
            "subscribedApplicationsIds": copy.deepcopy(self.subscribed_application_ids),
            "integration": self.integration,
            "integrationId": self.integration_id,
            "createdIn3rdParty": self.created_in_3rd_party,
            "lastUpdate": iso(self.last_update) if self.last_update else None,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out


class Audiences:
    def __init__(self, audiences: Iterable[Audience]) -> None:
        self.audiences: dict[int, Audience] = {a.id: a for a in audiences}
        self._last_id = max([*self.audiences, 0])

    def get(self, audience_id: int) -> Audience:
        audience = self.audiences.get(audience_id)
        if audience is None:
            raise not_found(f"Audience {audience_id} does not exist")
        return audience

    def create(self, body: Mapping[str, Any], now: datetime) -> Audience:
        integration_id = body.get("integrationId")
        if integration_id is not None and any(
            a.integration_id == integration_id and a.integration == body.get("integration")
            for a in self.audiences.values()
        ):
            raise conflict(
                f"An audience with integrationId {integration_id!r} already exists", "/integrationId"
            )
        self._last_id += 1
        last_update = body.get("lastUpdate")
        audience = Audience(
            id=self._last_id,
            name=body["name"],
            created=now,
            description=body.get("description"),
            sandbox=body.get("sandbox"),
            subscribed_application_ids=body.get("subscribedApplicationsIds"),
            integration=body.get("integration"),
            integration_id=integration_id,
            created_in_3rd_party=body.get("createdIn3rdParty"),
            last_update=None if last_update is None else _parse(last_update),
        )
        self.audiences[audience.id] = audience
        return audience

    def memberships(self, profile_id: str) -> list[dict[str, Any]]:
        """AudienceMembership entries of a profile, by audience id."""
        return [{"id": a.id, "name": a.name} for a in self.audiences.values() if profile_id in a.members]

    def of(self, profile_id: str) -> list[int]:
        return [a.id for a in self.audiences.values() if profile_id in a.members]

    def forget(self, profile_id: str) -> None:
        for audience in self.audiences.values():
            audience.members.pop(profile_id, None)


def _parse(value: str) -> datetime:
    moment = parse_datetime(value)
    assert moment is not None  # format checked by the request schema
    return moment
