"""A Powertools idempotency persistence layer in a dict: DynamoDB answered in-process.

It keeps DynamoDB's conditional-write semantics (a key may be written when absent, expired,
or in progress past its in-progress expiry), so the gateway's idempotency code runs exactly
as deployed, minus the network.
"""

from __future__ import annotations

import datetime as dt

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord


class InMemoryPersistenceLayer(BasePersistenceLayer):
    """Keeps the latest ``capacity`` records: DynamoDB holds them outside the function's memory,
    so an unbounded dict would count the table against the function's peak RSS."""

    def __init__(self, capacity: int = 256) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.records: dict[str, DataRecord] = {}
        self.capacity = capacity

    def _get_record(self, idempotency_key: str) -> DataRecord:
        try:
            return self.records[idempotency_key]
        except KeyError:
            raise IdempotencyItemNotFoundError from None

    def _put_record(self, data_record: DataRecord) -> None:
        existing = self.records.get(data_record.idempotency_key)
        now = dt.datetime.now()
        if existing is not None:
            expired = existing.expiry_timestamp is not None and existing.expiry_timestamp < int(
                now.timestamp()
            )
            stale = (
                existing.status == "INPROGRESS"
                and existing.in_progress_expiry_timestamp is not None
                and existing.in_progress_expiry_timestamp < int(now.timestamp() * 1000)
            )
            if not (expired or stale):
                raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
        self.records[data_record.idempotency_key] = data_record
        while len(self.records) > self.capacity:
            del self.records[next(iter(self.records))]

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)
