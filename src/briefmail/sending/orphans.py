"""Batches whose owner is gone: found by its silent heartbeat, settled from evidence.

A batch is `sending` only while its request may be in flight. When the worker that
claimed it stops beating (`worker_liveness.silent`), its outcome is decided from
what can be known, never by sending it again blindly: provider events of one of its
attempts, else what the backend can see (an outbox's files; SMTP and SendGrid see
nothing), else it is `unknown` and waits for evidence or an operator (`doubt`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.db.dialect import begin_write, lock_rows
from briefmail.db.models import Batch, BatchStatus, Delivery
from briefmail.sending import deliveries, evidence, send_states, worker_liveness
from briefmail.sending.answers import unknown_message
from briefmail.sending.backends.base import OrphanOutcome
from briefmail.sending.batch_states import BatchEvent, move_batches
from briefmail.sending.claims import Overtaken

BackendOutcome = Callable[[int, Sequence[int]], OrphanOutcome]


def find_orphans(session: Session, *, now: datetime, lease_seconds: float) -> list[int]:
    """`sending` batches whose owner's heartbeat has stopped (see `worker_liveness.silent`)."""
    orphans = list(
        session.scalars(
            select(Batch.id).where(
                Batch.status == BatchStatus.SENDING,
                worker_liveness.silent(Batch.claimed_by, now=now, lease_seconds=lease_seconds),
            )
        )
    )
    session.rollback()
    return orphans


def settle_orphan(
    session: Session,
    batch_id: int,
    *,
    now: datetime,
    backend_outcome: BackendOutcome,
    why: str,
) -> BatchStatus | Overtaken:
    """Decide a dead owner's batch from evidence; never resend it blindly. Returns its
    new status, or `Overtaken.GONE` when it was no longer `sending`. Commits."""
    begin_write(session)
    batch = session.execute(
        lock_rows(
            session,
            select(Batch).where(Batch.id == batch_id, Batch.status == BatchStatus.SENDING),
            Batch,
        )
    ).scalar_one_or_none()
    if batch is None:
        session.rollback()
        return Overtaken.GONE
    first, note = evidence.batch_went_out(session, batch)
    if first is not None:
        status = _accept(session, batch, first.at, note, now)
    else:
        outcome = _backend_says(session, batch, backend_outcome)
        if outcome is OrphanOutcome.SENT:
            status = _accept(session, batch, clock.as_utc(batch.claimed_at or now), note, now)
        elif outcome is OrphanOutcome.NOT_SENT:
            status = _not_sent(session, batch, why, now)
        else:
            status = _in_doubt(session, batch, why, now)
    session.commit()
    return status


def _backend_says(session: Session, batch: Batch, backend_outcome: BackendOutcome) -> OrphanOutcome:
    """What the backend can see of the batch's queued recipients."""
    queued = session.scalars(
        select(Delivery.id).where(Delivery.batch_id == batch.id, Delivery.status == "queued")
    )
    return backend_outcome(batch.send_id, list(queued))


def _accept(
    session: Session, batch: Batch, at: datetime, note: str | None, now: datetime
) -> BatchStatus:
    batch_id = batch.id
    move_batches(
        session,
        Batch.id == batch_id,
        by=BatchEvent.OWNER_GONE,
        to=BatchStatus.ACCEPTED,
        accepted_at=at,
        error=note,
        updated_at=now,
    )
    deliveries.settle_accepted(session, batch_id, at)
    return BatchStatus.ACCEPTED


def _not_sent(session: Session, batch: Batch, why: str, now: datetime) -> BatchStatus:
    """Provably not sent: due again at once, or cancelled with its send."""
    batch_id = batch.id
    if send_states.cancelled_under_lock(session, batch.send_id):
        move_batches(
            session,
            Batch.id == batch_id,
            by=BatchEvent.OWNER_GONE,
            to=BatchStatus.CANCELLED,
            error=f"{why}; the backend shows it was not sent and the send was cancelled",
            updated_at=now,
        )
        deliveries.cancel_queued(session, batch_id, "send cancelled")
        return BatchStatus.CANCELLED
    move_batches(
        session,
        Batch.id == batch_id,
        by=BatchEvent.OWNER_GONE,
        to=BatchStatus.PENDING,
        due_at=now,
        error=f"requeued: {why}; the backend shows it was not sent",
        updated_at=now,
    )
    return BatchStatus.PENDING


def _in_doubt(session: Session, batch: Batch, why: str, now: datetime) -> BatchStatus:
    move_batches(
        session,
        Batch.id == batch.id,
        by=BatchEvent.OWNER_GONE,
        to=BatchStatus.UNKNOWN,
        error=unknown_message(batch.id, batch.claimed_by, batch.attempt_key, why),
        doubt_note=None,
        updated_at=now,
    )
    return BatchStatus.UNKNOWN
