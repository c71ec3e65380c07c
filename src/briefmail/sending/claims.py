"""Claiming a due batch, and what a claim or a later write can come to.

A claim is one transaction that commits `sending` before the request leaves. A batch
sent before (a retry, or one resolved for resending) is first checked, under the
same lock, for provider events of its earlier attempts: if one went out after all,
the batch is settled as accepted instead (`Settled`), since a second request would
mail everyone in it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.orm import Session

from briefmail.db.dialect import begin_write, skip_locked
from briefmail.db.models import Batch, BatchStatus, Send, SendStatus
from briefmail.sending import deliveries, evidence
from briefmail.sending.batch_states import BatchEvent, move_batches
from briefmail.sending.evidence import Sighting


@dataclass(frozen=True, slots=True)
class Claim:
    """A batch this worker owns for one attempt."""

    batch_id: int
    send_id: int
    attempt_key: str
    attempts: int  # including this one
    worker: str


@dataclass(frozen=True, slots=True)
class Settled:
    """A due batch the claim found already sent by an earlier attempt: accepted, not sent."""

    batch_id: int
    send_id: int
    reason: str


class Overtaken(StrEnum):
    """A write that found the batch no longer where its caller left it: nothing written."""

    # The attempt was settled otherwise meanwhile (an orphan's verdict, an operator's).
    STALE = "stale"
    # The batch was no longer `sending` when its dead owner's batch was settled
    # (another tick settled it first).
    GONE = "gone"


def claim_next_batch(session: Session, *, now: datetime, worker: str) -> Claim | Settled | None:
    """Take the oldest due pending batch, or None; commits `sending` before returning.

    Events of its earlier attempts cannot be seen any earlier than this, under the
    lock; a resend with no evidence by now goes out.
    """
    begin_write(session)
    query = (
        select(
            Batch.id,
            Batch.send_id,
            Batch.attempts,
            Batch.attempt_key,
            Batch.earlier_attempt_keys,
            Batch.error,
        )
        .join(Send, Send.id == Batch.send_id)
        .where(
            Batch.status == BatchStatus.PENDING,
            Batch.due_at <= now,
            Send.status == SendStatus.SENDING,
        )
        .order_by(Batch.due_at, Batch.id)
        .limit(1)
    )
    row = session.execute(skip_locked(session, query, Batch)).first()
    if row is None:
        session.rollback()
        return None
    batch_id, send_id, attempts, last_key, earlier, error = row
    tried = evidence.attempt_keys(last_key, earlier)
    proof = evidence.first_sighting(session, batch_id, tried)
    if proof is not None:
        return _settle_instead_of_resending(session, batch_id, send_id, proof, error, now)
    deliveries.drop_lapsed(session, batch_id)
    key = uuid4().hex
    more: dict[str, object] = {}
    if tried:  # never None: the JSON column would store a JSON null
        more["earlier_attempt_keys"] = tried
    claimed = move_batches(
        session,
        Batch.id == batch_id,
        by=BatchEvent.CLAIM,
        to=BatchStatus.SENDING,
        attempts=Batch.attempts + 1,
        attempt_key=key,
        claimed_by=worker,
        claimed_at=now,
        updated_at=now,
        **more,
    )
    if claimed != 1:  # pragma: no cover - the row is locked by us
        session.rollback()
        return None
    session.commit()
    return Claim(batch_id, send_id, key, attempts + 1, worker)


def _settle_instead_of_resending(
    session: Session,
    batch_id: int,
    send_id: int,
    seen: Sighting,
    error: str | None,
    now: datetime,
) -> Settled | None:
    """Accept a due batch whose earlier attempt the provider reported, in the claim's
    transaction; its recipients are those of that attempt, so none is dropped here."""
    reason = (
        f"accepted, not sent again: provider events show its earlier {seen.describe()} "
        "went out, so sending it again would mail every recipient twice"
        + (f" (it was {error})" if error else "")
    )
    settled = move_batches(
        session,
        Batch.id == batch_id,
        by=BatchEvent.EARLIER_ATTEMPT_SEEN,
        to=BatchStatus.ACCEPTED,
        accepted_at=seen.at,
        error=reason,
        claimed_by=None,
        updated_at=now,
    )
    if settled != 1:  # pragma: no cover - the row is locked by us
        session.rollback()
        return None
    deliveries.settle_accepted(session, batch_id, seen.at)
    session.commit()
    return Settled(batch_id, send_id, reason)
