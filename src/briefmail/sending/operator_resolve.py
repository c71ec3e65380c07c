"""An operator's verdict on a batch in doubt: it went out, or send it again.

`briefmail sends resolve BATCH --accepted | --resend` (and the console's buttons). A
verdict can be wrong and provider events can be late, so a resend waits a grace after
the attempt in doubt, and the claim that would resend it looks for that attempt's
events first (`claims.claim_next_batch`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.db.dialect import begin_write, lock_rows
from briefmail.db.models import Batch, BatchStatus, Send, SendStatus
from briefmail.errors import NotFoundError, StateError
from briefmail.sending import deliveries
from briefmail.sending.batch_states import BatchEvent, move_batches


def _in_doubt(session: Session, batch_id: int) -> Batch:
    """The batch, locked; NotFoundError or StateError (rolled back) unless it is `unknown`."""
    batch = session.execute(
        lock_rows(session, select(Batch).where(Batch.id == batch_id), Batch)
    ).scalar_one_or_none()
    if batch is None:
        session.rollback()
        raise NotFoundError(f"no batch {batch_id}")
    if batch.status != BatchStatus.UNKNOWN:
        status = batch.status
        session.rollback()
        raise StateError(
            f"batch {batch_id} is {status}; only a batch marked unknown needs resolving"
        )
    return batch


def resolve_batch(
    session: Session,
    batch_id: int,
    *,
    accepted: bool,
    now: datetime,
    by: str,
    grace_seconds: float = 0.0,
) -> Batch:
    """Settle an `unknown` batch as the operator says; commits and returns it.

    A resend is due `grace_seconds` after the attempt in doubt was made (at once if
    that is past): the provider's events for it may still be on their way, and any
    that arrive by the claim stop the resend.
    """
    begin_write(session)
    batch = _in_doubt(session, batch_id)
    send_status = session.scalar(select(Send.status).where(Send.id == batch.send_id))
    who = f" by {by}" if by else ""
    this = Batch.id == batch_id
    attempted = clock.as_utc(batch.claimed_at) if batch.claimed_at else None
    if accepted:
        at = attempted or now
        move_batches(
            session,
            this,
            by=BatchEvent.OPERATOR_RESOLVE,
            to=BatchStatus.ACCEPTED,
            accepted_at=at,
            error=f"resolved as accepted{who}",
            updated_at=now,
        )
        deliveries.settle_accepted(session, batch_id, at)
    elif send_status == SendStatus.CANCELLED:
        move_batches(
            session,
            this,
            by=BatchEvent.OPERATOR_RESOLVE,
            to=BatchStatus.CANCELLED,
            error=f"resolved as not sent{who}; the send was cancelled",
            updated_at=now,
        )
        deliveries.cancel_queued(session, batch_id, "send cancelled")
    else:
        move_batches(
            session,
            this,
            by=BatchEvent.OPERATOR_RESOLVE,
            to=BatchStatus.PENDING,
            due_at=max(now, (attempted or now) + timedelta(seconds=grace_seconds)),
            error=f"resolved for resending{who}",
            updated_at=now,
        )
    session.commit()
    return session.get_one(Batch, batch_id)
