"""Recording what became of a claimed batch's request: accepted, refused, or no answer.

Every write here is conditional on the claim's attempt key (`this_attempt`) and on
the batch's table (`batch_states`), so an attempt settled otherwise meanwhile (an
orphan's verdict, an operator's) changes nothing: the caller gets `Overtaken.STALE`.
Each function is one transaction and commits it.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import and_
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from briefmail.db.dialect import begin_write
from briefmail.db.models import Batch, BatchStatus
from briefmail.sending import deliveries, evidence, send_states
from briefmail.sending.backends.base import BatchResult, ProviderError
from briefmail.sending.batch_states import BatchEvent, move_batches
from briefmail.sending.claims import Claim, Overtaken
from briefmail.sending.retry import RetryPolicy


def this_attempt(claim: Claim) -> ColumnElement[bool]:
    """The claimed batch, still on this attempt."""
    return and_(Batch.id == claim.batch_id, Batch.attempt_key == claim.attempt_key)


def record_accepted(session: Session, claim: Claim, result: BatchResult, now: datetime) -> bool:
    """The provider took the batch. False if the batch had meanwhile been settled otherwise."""
    begin_write(session)
    done = move_batches(
        session,
        this_attempt(claim),
        by=BatchEvent.PROVIDER_ACCEPTED,
        to=BatchStatus.ACCEPTED,
        accepted_at=now,
        provider_message_id=result.provider_message_id,
        error=None,
        updated_at=now,
    )
    if done != 1:
        session.rollback()
        return False
    deliveries.settle_accepted(session, claim.batch_id, now, dict(result.refused))
    session.commit()
    return True


def record_error(
    session: Session,
    claim: Claim,
    error: ProviderError,
    *,
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random | None = None,
    permanent: bool,
) -> BatchStatus | Overtaken:
    """A refused or failed attempt: back to `pending` later, or `failed` (`accepted`
    when an earlier attempt's events show it went out; `cancelled` when its send was
    cancelled meanwhile). Returns the batch's new status."""
    begin_write(session)
    deliveries.accept_handed_over(session, error.accepted, now)  # SMTP, before the failure
    reason = error.describe()
    if permanent or not policy.should_retry(claim.attempts):
        final = reason if permanent else f"gave up after {claim.attempts} attempts: {reason}"
        outcome = _give_up(session, claim, final, now)
    elif send_states.cancelled_under_lock(session, claim.send_id):
        # Cancelled while in flight: a retry could never be claimed, and its queued
        # rows would hold these readers' place for the brief for ever.
        outcome = _cancel_after_refusal(session, claim, reason, now)
    else:
        delay = policy.delay(claim.attempts, error.retry_after, rng)
        moved = move_batches(
            session,
            this_attempt(claim),
            by=BatchEvent.RETRY,
            to=BatchStatus.PENDING,
            due_at=now + timedelta(seconds=delay),
            error=f"attempt {claim.attempts} of {policy.max_attempts}: {reason}",
            claimed_by=None,
            updated_at=now,
        )
        outcome = BatchStatus.PENDING if moved == 1 else Overtaken.STALE
    if outcome is Overtaken.STALE:
        session.rollback()
    else:
        session.commit()
    return outcome


def _cancel_after_refusal(
    session: Session, claim: Claim, reason: str, now: datetime
) -> BatchStatus | Overtaken:
    moved = move_batches(
        session,
        this_attempt(claim),
        by=BatchEvent.REFUSED_AFTER_CANCEL,
        to=BatchStatus.CANCELLED,
        error=f"send cancelled: {reason}",
        claimed_by=None,
        updated_at=now,
    )
    if moved != 1:
        return Overtaken.STALE
    deliveries.cancel_queued(session, claim.batch_id, "send cancelled")
    return BatchStatus.CANCELLED


def _give_up(session: Session, claim: Claim, final: str, now: datetime) -> BatchStatus | Overtaken:
    """`failed`, unless events show an earlier attempt went out: then its recipients
    have it, and the batch is neither failed nor free to resend."""
    proof = evidence.earlier_attempt_went_out(session, claim.batch_id)
    if proof is not None:
        moved = move_batches(
            session,
            this_attempt(claim),
            by=BatchEvent.REFUSED_BUT_EARLIER_WENT_OUT,
            to=BatchStatus.ACCEPTED,
            accepted_at=proof.at,
            error=(
                f"accepted: provider events show its earlier {proof.describe()} went out "
                f"(this attempt then ended: {final})"
            ),
            claimed_by=None,
            updated_at=now,
        )
        if moved != 1:
            return Overtaken.STALE
        deliveries.settle_accepted(session, claim.batch_id, proof.at)
        return BatchStatus.ACCEPTED
    moved = move_batches(
        session,
        this_attempt(claim),
        by=BatchEvent.GIVE_UP,
        to=BatchStatus.FAILED,
        error=final,
        claimed_by=None,
        updated_at=now,
    )
    if moved != 1:
        return Overtaken.STALE
    deliveries.fail_queued(session, claim.batch_id, final)
    return BatchStatus.FAILED


def unknown_message(batch_id: int, worker: str | None, attempt_key: str | None, why: str) -> str:
    """The operator's instructions for a batch whose outcome nobody can know."""
    return (
        f"outcome unknown: {why} (worker {worker or '?'}, attempt {attempt_key or '?'}); "
        "the provider may have accepted it. Provider events for this attempt settle it as "
        "accepted; silence about it while later requests' events arrive gets it resent. "
        "To decide sooner, check the provider's activity log, then run "
        f"`briefmail sends resolve {batch_id} --accepted` if it went out, or "
        f"`briefmail sends resolve {batch_id} --resend` if it did not."
    )


def record_unknown(session: Session, claim: Claim, why: str, now: datetime) -> bool:
    """The request left and no answer came: never retried blindly."""
    begin_write(session)
    done = move_batches(
        session,
        this_attempt(claim),
        by=BatchEvent.NO_ANSWER,
        to=BatchStatus.UNKNOWN,
        error=unknown_message(claim.batch_id, claim.worker, claim.attempt_key, why),
        doubt_note=None,
        updated_at=now,
    )
    session.commit()
    return done == 1
