"""A send's batches as the console shows them, with the evidence for a batch in doubt.

Only reads. `sends show` prints one line per problem batch (`SendView.errors`); the
console lists every batch, and for one whose outcome is unknown it shows what a
person needs to decide: who had claimed it and when, its attempts and their keys,
and what the provider's events say of them (`sending.evidence`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.db.models import Batch
from briefmail.sending.evidence import attempt_keys, sightings

MAX_SHOWN = 200


@dataclass(frozen=True, slots=True)
class BatchRow:
    id: int
    seq: int
    status: str
    size: int
    attempts: int
    error: str | None
    due_at: datetime
    claimed_by: str | None
    claimed_at: datetime | None
    keys: tuple[str, ...]
    # What events say of each attempt key (only for a batch in doubt).
    seen: tuple[str, ...]


def batch_rows(session: Session, send_id: int) -> list[BatchRow]:
    batches = session.scalars(
        select(Batch).where(Batch.send_id == send_id).order_by(Batch.seq).limit(MAX_SHOWN)
    )
    rows = []
    for batch in batches:
        keys = attempt_keys(batch.attempt_key, batch.earlier_attempt_keys)
        seen: tuple[str, ...] = ()
        if batch.status == "unknown":
            found = sightings(session, batch.id, keys)
            seen = tuple(
                found[key].describe() if key in found else f"attempt {key}: no provider event"
                for key in keys
            )
        rows.append(
            BatchRow(
                id=batch.id,
                seq=batch.seq,
                status=batch.status,
                size=batch.size,
                attempts=batch.attempts,
                error=batch.error,
                due_at=clock.as_utc(batch.due_at),
                claimed_by=batch.claimed_by,
                claimed_at=clock.as_utc(batch.claimed_at) if batch.claimed_at else None,
                keys=tuple(keys),
                seen=seen,
            )
        )
    return rows
