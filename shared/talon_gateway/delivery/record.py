"""What Talon.One answered to a request, as handed back to the caller and stored for replays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Delivery:
    status: int
    content_type: str | None
    body: str
    replayed: bool = False

    def as_record(self) -> dict[str, Any]:
        return {"status": self.status, "contentType": self.content_type, "body": self.body}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Delivery:
        return cls(record["status"], record["contentType"], record["body"], bool(record.get("replayed")))
