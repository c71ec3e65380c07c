"""The send ledger: batch and send state, moved only inside short transactions.

A batch moves

    pending --claim--> sending --answer--> accepted | failed | pending (retry later)
       |                  |
       |                  +--owner gone--> accepted (evidence) | pending (provably
       |                                   not sent) | unknown --operator--> accepted | pending
       +--claim finds events of an earlier attempt--> accepted (never sent twice)
    pending --cancel--> cancelled

`sending` is committed *before* the provider request, with a fresh attempt key and
the claiming worker's identity, and the answer is committed *after* it. So a crash
can only ever leave a batch in `sending`, and such a batch is never resent blindly:
its outcome is settled from evidence (provider events carrying its attempt key, or
what the backend can see), else it waits for an operator. An operator's "it did not
go out" can be wrong, and provider events can be late: so a batch that was sent before
is checked for events of its earlier attempts in the very transaction that claims it
again, and evidence that one went out wins over sending it a second time. Progress is
the set of per-recipient rows, never a cursor moved ahead of the work (listmonk's
mistake).

Each function here is one transaction and commits it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import uuid4

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from briefmail import clock
from briefmail.db.dialect import begin_write, lock_rows, rowcount, skip_locked
from briefmail.db.models import OPEN_BATCH, Batch, Delivery, Send, Subscriber, Suppression
from briefmail.errors import NotFoundError, StateError
from briefmail.sending import evidence, owners
from briefmail.sending.backends.base import BatchResult, OrphanOutcome, ProviderError
from briefmail.sending.evidence import Sighting
from briefmail.sending.retry import RetryPolicy


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


def claim_next_batch(session: Session, *, now: datetime, worker: str) -> Claim | Settled | None:
    """Take the oldest due pending batch, or None; commits `sending` before returning.

    A batch sent before (a retry, or one an operator resolved for resending) is first
    checked, under the same lock, for provider events of its earlier attempts: if one
    went out after all, the batch is settled as accepted (`Settled`) instead, since a
    second request would mail everyone in it twice. Its events cannot be seen any
    earlier than this; a resend with no evidence by now goes out.
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
        .where(Batch.status == "pending", Batch.due_at <= now, Send.status == "sending")
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
    drop_lapsed(session, batch_id)
    key = uuid4().hex
    values: dict[str, object] = {
        "status": "sending",
        "attempts": Batch.attempts + 1,
        "attempt_key": key,
        "claimed_by": worker,
        "claimed_at": now,
        "updated_at": now,
    }
    if tried:  # never None: the JSON column would store a JSON null
        values["earlier_attempt_keys"] = tried
    claimed = session.execute(
        update(Batch).where(Batch.id == batch_id, Batch.status == "pending").values(**values)
    )
    if rowcount(claimed) != 1:  # pragma: no cover - the row is locked by us
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
    settled = session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.status == "pending")
        .values(
            status="accepted",
            accepted_at=seen.at,
            error=reason,
            claimed_by=None,
            updated_at=now,
        )
    )
    if rowcount(settled) != 1:  # pragma: no cover - the row is locked by us
        session.rollback()
        return None
    _settle_deliveries(session, batch_id, seen.at)
    session.commit()
    return Settled(batch_id, send_id, reason)


def drop_lapsed(session: Session, batch_id: int) -> int:
    """Cancel the batch's recipients who unsubscribed, bounced or were suppressed (or
    deleted) since the snapshot; the caller's transaction keeps it atomic with the claim."""
    subscriber = Subscriber.id == Delivery.subscriber_id
    lapsed = or_(
        exists().where(subscriber, Subscriber.status != "active"),
        exists().where(subscriber, Suppression.email_key == Subscriber.email_key),
        and_(
            Delivery.subscriber_id.is_(None),
            exists().where(Send.id == Delivery.send_id, Send.kind == "brief"),
        ),
    )
    result = session.execute(
        update(Delivery)
        .where(Delivery.batch_id == batch_id, Delivery.status == "queued", lapsed)
        .values(status="cancelled", error="no longer subscribed when its batch was sent")
        .execution_options(synchronize_session=False)
    )
    return int(rowcount(result))


def _settle_deliveries(
    session: Session, batch_id: int, now: datetime, refused: dict[int, str] | None = None
) -> None:
    for delivery_id, reason in (refused or {}).items():
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == "queued")
            .values(status="failed", error=reason[:2000])
        )
    session.execute(
        update(Delivery)
        .where(Delivery.batch_id == batch_id, Delivery.status == "queued")
        .values(status="accepted", accepted_at=now)
        .execution_options(synchronize_session=False)
    )


def _this_attempt(claim: Claim, *statuses: str) -> ColumnElement[bool]:
    """The claimed batch, still on this attempt and in one of `statuses`: every write
    after a request is conditional on it, so a stale or settled attempt changes nothing."""
    return and_(
        Batch.id == claim.batch_id,
        Batch.attempt_key == claim.attempt_key,
        Batch.status.in_(statuses),
    )


def record_accepted(session: Session, claim: Claim, result: BatchResult, now: datetime) -> bool:
    """The provider took the batch. False if the batch had meanwhile been settled otherwise."""
    begin_write(session)
    done = session.execute(
        update(Batch)
        # `unknown`: a live but slow owner outlived its lease; it knows better. `pending`
        # with this attempt's key: requeued or resolved for resending after that, but not
        # claimed again yet; the provider's answer beats the guess, and stops the resend.
        .where(_this_attempt(claim, "sending", "unknown", "pending"))
        .values(
            status="accepted",
            accepted_at=now,
            provider_message_id=result.provider_message_id,
            error=None,
            updated_at=now,
        )
    )
    if rowcount(done) != 1:
        session.rollback()
        return False
    _settle_deliveries(session, claim.batch_id, now, dict(result.refused))
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
) -> str:
    """A refused or failed attempt: back to `pending` later, or `failed`. Returns the status."""
    begin_write(session)
    if error.accepted:  # handed over one by one before the failure (SMTP)
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(sorted(error.accepted)), Delivery.status == "queued")
            .values(status="accepted", accepted_at=now)
        )
    reason = error.describe()
    retry = not permanent and policy.should_retry(claim.attempts)
    if retry and _send_cancelled(session, claim.send_id):
        # Cancelled while in flight: a retry could never be claimed, and its queued
        # rows would hold these readers' place for the brief for ever.
        if _move_batch(session, claim, "cancelled", f"send cancelled: {reason}", now):
            _cancel_deliveries(session, claim.batch_id)
            session.commit()
            return "cancelled"
        session.rollback()
        return "stale"
    if retry:
        due = now + timedelta(seconds=policy.delay(claim.attempts, error.retry_after, rng))
        values: dict[str, object] = {
            "status": "pending",
            "due_at": due,
            "error": f"attempt {claim.attempts} of {policy.max_attempts}: {reason}",
        }
    else:
        final = reason if permanent else f"gave up after {claim.attempts} attempts: {reason}"
        proof = evidence.earlier_attempt_went_out(session, claim.batch_id)
        if proof is not None:  # its recipients have it: neither failed nor free to resend
            final = (
                f"accepted: provider events show its earlier {proof.describe()} went out "
                f"(this attempt then ended: {final})"
            )
            if _settle_accepted(session, claim, proof, final, now):
                session.commit()
                return "accepted"
            session.rollback()
            return "stale"
        values = {"status": "failed", "error": final}
    moved = session.execute(
        update(Batch)
        .where(_this_attempt(claim, "sending", "unknown"))
        .values(**values, claimed_by=None, updated_at=now)
    )
    if rowcount(moved) != 1:
        session.rollback()
        return "stale"
    if not retry:
        session.execute(
            update(Delivery)
            .where(Delivery.batch_id == claim.batch_id, Delivery.status == "queued")
            .values(status="failed", error=str(values["error"])[:2000])
            .execution_options(synchronize_session=False)
        )
    session.commit()
    return str(values["status"])


def _settle_accepted(
    session: Session, claim: Claim, seen: Sighting, error: str, now: datetime
) -> bool:
    """Accept the claim's batch on another attempt's evidence, queued recipients too."""
    settled = session.execute(
        update(Batch)
        .where(_this_attempt(claim, "sending", "unknown"))
        .values(
            status="accepted", accepted_at=seen.at, error=error, claimed_by=None, updated_at=now
        )
    )
    if rowcount(settled) != 1:
        return False
    _settle_deliveries(session, claim.batch_id, seen.at)
    return True


def _send_cancelled(session: Session, send_id: int) -> bool:
    """Read under the send's row lock, so a concurrent cancel is either seen here or
    sees what this transaction writes (it cancels pending batches after taking it)."""
    status = session.execute(
        lock_rows(session, select(Send.status).where(Send.id == send_id), Send)
    ).scalar_one()
    return bool(status == "cancelled")


def _move_batch(session: Session, claim: Claim, status: str, error: str, now: datetime) -> bool:
    moved = session.execute(
        update(Batch)
        .where(_this_attempt(claim, "sending", "unknown"))
        .values(status=status, error=error, claimed_by=None, updated_at=now)
    )
    return rowcount(moved) == 1


def _cancel_deliveries(session: Session, batch_id: int) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.batch_id == batch_id, Delivery.status == "queued")
        .values(status="cancelled", error="send cancelled")
        .execution_options(synchronize_session=False)
    )


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
    done = session.execute(
        update(Batch)
        .where(_this_attempt(claim, "sending"))
        .values(
            status="unknown",
            error=unknown_message(claim.batch_id, claim.worker, claim.attempt_key, why),
            doubt_note=None,
            updated_at=now,
        )
    )
    session.commit()
    return rowcount(done) == 1


def refresh_send(session: Session, send_id: int, now: datetime) -> str:
    """Derive the send's status from its batches once none is open; returns the status."""
    # Cheap look first, without the lock: while batches are open there is nothing to do,
    # and workers finishing batches must not queue up on the send row.
    status, writing = session.execute(
        select(Send.status, Send.snapshot_by).where(Send.id == send_id)
    ).one()
    still_open = session.scalar(
        select(func.count()).where(Batch.send_id == send_id, Batch.status.in_(OPEN_BATCH))
    )
    session.rollback()
    if status == "sending" and (still_open or writing is not None):
        return str(status)
    begin_write(session)
    send = session.execute(
        lock_rows(session, select(Send).where(Send.id == send_id), Send)
    ).scalar_one()
    counts = dict(
        session.execute(
            select(Batch.status, func.count())
            .where(Batch.send_id == send_id)
            .group_by(Batch.status)
        ).all()
    )
    open_count = sum(counts.get(s, 0) for s in OPEN_BATCH)
    if send.status == "cancelled":
        if send.finished_at is None and not counts.get("sending"):
            send.finished_at = now
    elif send.status == "sending" and open_count == 0 and send.snapshot_by is None:
        errors = failed_batch_errors(session, send_id)
        send.status = "failed" if errors else "sent"
        send.error = "\n".join(errors) or None
        send.finished_at = now
    status = send.status
    session.commit()
    return status


def failed_batch_errors(session: Session, send_id: int) -> list[str]:
    rows = session.execute(
        select(Batch.seq, Batch.error)
        .where(Batch.send_id == send_id, Batch.status == "failed")
        .order_by(Batch.seq)
    )
    return [f"batch {seq}: {error or 'failed'}" for seq, error in rows]


def open_sends(session: Session) -> list[int]:
    """Sends still running, and cancelled ones whose batch in flight has not yet ended."""
    unfinished = and_(Send.status == "cancelled", Send.finished_at.is_(None))
    return list(session.scalars(select(Send.id).where(or_(Send.status == "sending", unfinished))))


# -- orphans: batches whose owner is gone ------------------------------------------------


def find_orphans(session: Session, *, now: datetime, lease_seconds: float) -> list[int]:
    """`sending` batches whose owner's heartbeat has stopped (see `owners.silent`)."""
    orphans = list(
        session.scalars(
            select(Batch.id).where(
                Batch.status == "sending",
                owners.silent(
                    Batch.claimed_by, Batch.claimed_at, now=now, lease_seconds=lease_seconds
                ),
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
    backend_outcome: Callable[[int, Sequence[int]], OrphanOutcome],
    why: str,
) -> str:
    """Decide a dead owner's batch from evidence; never resend it blindly."""
    begin_write(session)
    batch = session.execute(
        lock_rows(
            session,
            select(Batch).where(Batch.id == batch_id, Batch.status == "sending"),
            Batch,
        )
    ).scalar_one_or_none()
    if batch is None:
        session.rollback()
        return "gone"
    first, note = evidence.batch_went_out(session, batch)
    seen = first.at if first is not None else None
    if seen is not None:
        outcome = OrphanOutcome.SENT
    else:
        queued = list(
            session.scalars(
                select(Delivery.id).where(
                    Delivery.batch_id == batch.id, Delivery.status == "queued"
                )
            )
        )
        outcome = backend_outcome(batch.send_id, queued)
    if outcome is OrphanOutcome.SENT:
        batch.status = "accepted"
        batch.accepted_at = seen or clock.as_utc(batch.claimed_at or now)
        batch.error = note
        _settle_deliveries(session, batch.id, batch.accepted_at)
    elif outcome is OrphanOutcome.NOT_SENT and _send_cancelled(session, batch.send_id):
        batch.status = "cancelled"
        batch.error = f"{why}; the backend shows it was not sent and the send was cancelled"
        _cancel_deliveries(session, batch.id)
    elif outcome is OrphanOutcome.NOT_SENT:
        batch.status = "pending"
        batch.due_at = now
        batch.error = f"requeued: {why}; the backend shows it was not sent"
    else:
        batch.status = "unknown"
        batch.error = unknown_message(batch.id, batch.claimed_by, batch.attempt_key, why)
        batch.doubt_note = None
    batch.updated_at = now
    status = batch.status
    session.commit()
    return status


def settle_unknown_by_events(session: Session, *, now: datetime) -> list[int]:
    """Accept `unknown` batches one of whose attempts has since shown up in provider events."""
    begin_write(session)
    settled: list[int] = []
    batches = session.execute(
        lock_rows(session, select(Batch).where(Batch.status == "unknown"), Batch)
    ).scalars()
    for batch in batches:
        first, note = evidence.batch_went_out(session, batch)
        if first is None:
            continue
        batch.status = "accepted"
        batch.accepted_at = first.at
        batch.error = note
        batch.updated_at = now
        _settle_deliveries(session, batch.id, first.at)
        settled.append(batch.id)
    session.commit()
    return settled


# -- operator actions --------------------------------------------------------------------


def cancel_send(session: Session, send_id: int, *, now: datetime) -> Send:
    """Stop what has not gone yet; a batch already in flight finishes."""
    begin_write(session)
    send = session.execute(
        lock_rows(session, select(Send).where(Send.id == send_id), Send)
    ).scalar_one_or_none()
    if send is None:
        session.rollback()
        raise NotFoundError(f"no send {send_id}")
    if send.status not in ("scheduled", "sending"):
        status = send.status
        session.rollback()
        raise StateError(
            f"send {send_id} is {status}; only a scheduled or sending send can be cancelled"
        )
    pending = select(Batch.id).where(Batch.send_id == send_id, Batch.status == "pending")
    session.execute(
        update(Delivery)
        .where(Delivery.batch_id.in_(pending), Delivery.status == "queued")
        .values(status="cancelled", error="send cancelled")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Batch)
        .where(Batch.send_id == send_id, Batch.status == "pending")
        .values(status="cancelled", error="send cancelled", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    in_flight = session.scalar(
        select(func.count()).where(Batch.send_id == send_id, Batch.status == "sending")
    )
    send.status = "cancelled"
    send.cancelled_at = now
    send.snapshot_by = None  # a ledger still being written stops at its next chunk
    if not in_flight:
        send.finished_at = now
    session.commit()
    return send


def resolve_batch(
    session: Session,
    batch_id: int,
    *,
    accepted: bool,
    now: datetime,
    by: str,
    grace_seconds: float = 0.0,
) -> Batch:
    """An operator's verdict on an `unknown` batch: it went out, or send it again.

    A resend is due `grace_seconds` after the attempt in doubt was made (at once if
    that is past): the provider's events for it may still be on their way, and any
    that arrive by the claim stop the resend (see `claim_next_batch`).
    """
    begin_write(session)
    batch = session.execute(
        lock_rows(session, select(Batch).where(Batch.id == batch_id), Batch)
    ).scalar_one_or_none()
    if batch is None:
        session.rollback()
        raise NotFoundError(f"no batch {batch_id}")
    if batch.status != "unknown":
        status = batch.status
        session.rollback()
        raise StateError(
            f"batch {batch_id} is {status}; only a batch marked unknown needs resolving"
        )
    send = session.get_one(Send, batch.send_id)
    who = f" by {by}" if by else ""
    if accepted:
        batch.status = "accepted"
        batch.accepted_at = clock.as_utc(batch.claimed_at or now)
        batch.error = f"resolved as accepted{who}"
        _settle_deliveries(session, batch.id, batch.accepted_at)
    elif send.status == "cancelled":
        batch.status = "cancelled"
        batch.error = f"resolved as not sent{who}; the send was cancelled"
        _cancel_deliveries(session, batch.id)
    else:
        attempted = clock.as_utc(batch.claimed_at) if batch.claimed_at else now
        batch.status = "pending"
        batch.due_at = max(now, attempted + timedelta(seconds=grace_seconds))
        batch.error = f"resolved for resending{who}"
    batch.updated_at = now
    session.commit()
    return batch
