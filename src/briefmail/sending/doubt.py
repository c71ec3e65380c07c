"""Batches in doubt settle themselves, once silence is evidence.

A batch is `unknown` when its request may have left and no answer was recorded: its
worker died mid-request, or the answer never came. Provider events of one of its
attempts prove that attempt went out, and settle it as accepted
(`settle_unknown_by_events`). Silence can give the other verdict (`review`): SendGrid
posts events for every request it accepts, so once

- `grace_seconds` have passed since the attempt in doubt with no event for it, and
- events have arrived for a request made after it (another batch's, or an alarm mail
  of ours, made at least one request timeout later: surely after SendGrid had it),

the webhook is demonstrably alive and its silence about this attempt means the
request was not accepted (a 429 or 500 nobody recorded, a body that never arrived):
the batch goes back to `pending` and is sent again. The claim still looks for events
of its earlier attempts first, under the batch's lock, and settles it as accepted
instead if any came meanwhile, as it does after an operator's `--resend`.

Where no events are to be expected (no webhook configured, a backend that reports
none) or while no later request's events arrive, silence proves nothing: the batch
waits for an operator, and `Batch.doubt_note` says why. The risk that remains is a
request SendGrid accepted but whose events it delays by more than the grace while it
posts later requests' events: its recipients would get the brief twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.db.dialect import begin_write, lock_rows
from briefmail.db.models import Batch, BatchStatus, Delivery, Send, SendStatus
from briefmail.sending import deliveries, evidence
from briefmail.sending.batch_states import BatchEvent, move_batches


@dataclass(frozen=True, slots=True)
class DoubtPolicy:
    grace_seconds: float = 900.0
    # The longest a request can take (the HTTP timeout): a request made this long after
    # the attempt in doubt began reached the provider after it.
    request_seconds: float = 30.0
    # Why the provider's silence proves nothing here (no webhook, a backend without
    # events); None when events are expected for every accepted request.
    no_events: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    resend: bool
    note: str


def settle_unknown_by_events(session: Session, *, now: datetime) -> list[int]:
    """Accept `unknown` batches one of whose attempts has since shown up in provider
    events; returns them. One transaction; commits."""
    begin_write(session)
    settled: list[int] = []
    batches = session.execute(
        lock_rows(session, select(Batch).where(Batch.status == BatchStatus.UNKNOWN), Batch)
    ).scalars()
    for batch in batches.all():
        first, note = evidence.batch_went_out(session, batch)
        if first is None:
            continue
        batch_id = batch.id
        move_batches(
            session,
            Batch.id == batch_id,
            by=BatchEvent.EVENTS_ARRIVE,
            to=BatchStatus.ACCEPTED,
            accepted_at=first.at,
            error=note,
            updated_at=now,
        )
        deliveries.settle_accepted(session, batch_id, first.at)
        settled.append(batch_id)
    session.commit()
    return settled


def review(session: Session, *, now: datetime, policy: DoubtPolicy) -> dict[int, BatchStatus]:
    """Take out of doubt the `unknown` batches whose silence is evidence (resent, or
    cancelled when their send is no longer running); note why the others wait.
    Returns the batches taken out of doubt, with their new status. One transaction;
    commits."""
    begin_write(session)
    rows = session.execute(
        select(
            Batch.id,
            Batch.attempt_key,
            Batch.claimed_at,
            Batch.updated_at,
            Batch.doubt_note,
            Send.status,
        )
        .join(Send, Send.id == Batch.send_id)
        .where(Batch.status == BatchStatus.UNKNOWN)
        .order_by(Batch.id)
    ).all()
    decided: dict[int, BatchStatus] = {}
    for batch_id, key, claimed, updated, note, send_status in rows:
        attempted = clock.as_utc(claimed or updated)
        verdict = assess(session, batch_id, attempted, now=now, policy=policy)
        if verdict.resend:
            status = _take_out(session, batch_id, key, verdict.note, send_status, now)
            if status is not None:
                decided[batch_id] = status
        elif verdict.note != note:
            # The note only: `updated_at` stays, it dates the batch's last real change.
            session.execute(
                update(Batch)
                .where(
                    Batch.id == batch_id,
                    Batch.status == BatchStatus.UNKNOWN,
                    Batch.attempt_key == key,
                )
                .values(doubt_note=verdict.note, updated_at=Batch.updated_at)
            )
    session.commit()
    return decided


def assess(
    session: Session, batch_id: int, attempted: datetime, *, now: datetime, policy: DoubtPolicy
) -> Verdict:
    """Whether the batch whose attempt in doubt began at `attempted` may go again, and why."""
    waiting = _unrecorded(session, batch_id)
    if policy.no_events is not None:
        return Verdict(
            False, f"{waiting}; not resent by itself: {policy.no_events}, so silence proves nothing"
        )
    resend_at = attempted + timedelta(seconds=policy.grace_seconds)
    after = attempted + timedelta(seconds=policy.request_seconds)
    later = evidence.later_request_seen(session, batch_id, after)
    if later is None:
        return Verdict(
            False,
            f"{waiting}; waiting for evidence: no provider events have arrived for a request "
            f"made after {after.isoformat(timespec='seconds')}, so the event webhook may be "
            "down or late and silence proves nothing yet. It is resent by itself once they "
            f"arrive (not before {resend_at.isoformat(timespec='seconds')}), or settles as "
            "accepted if events for it arrive",
        )
    if now < resend_at:
        return Verdict(
            False,
            f"{waiting}; resent by itself at {resend_at.isoformat(timespec='seconds')} unless "
            f"provider events for it arrive by then (events for {later.describe()} show the "
            "webhook alive)",
        )
    return Verdict(
        True,
        f"no provider event for its attempt in {policy.grace_seconds:g} s, while events for "
        f"{later.describe()} arrived: the provider did not take it",
    )


def _unrecorded(session: Session, batch_id: int) -> str:
    queued = session.scalar(
        select(func.count()).where(Delivery.batch_id == batch_id, Delivery.status == "queued")
    )
    return f"{queued or 0} recipients not recorded as handed over"


def _take_out(
    session: Session, batch_id: int, key: str | None, note: str, send_status: str, now: datetime
) -> BatchStatus | None:
    """Resend the batch, or cancel it when its send no longer runs; None if it moved
    meanwhile."""
    this = and_(Batch.id == batch_id, Batch.attempt_key == key)
    if send_status == SendStatus.SENDING:
        moved = move_batches(
            session,
            this,
            by=BatchEvent.SILENCE_IS_EVIDENCE,
            to=BatchStatus.PENDING,
            due_at=now,
            error=f"resending: {note}",
            doubt_note=None,
            claimed_by=None,
            updated_at=now,
        )
        return BatchStatus.PENDING if moved == 1 else None
    # The send was cancelled or failed meanwhile: nothing of it goes any more.
    moved = move_batches(
        session,
        this,
        by=BatchEvent.SILENCE_IS_EVIDENCE,
        to=BatchStatus.CANCELLED,
        error=f"{note}; not resent: the send is {send_status}",
        doubt_note=None,
        claimed_by=None,
        updated_at=now,
    )
    if moved != 1:
        return None
    deliveries.cancel_queued(session, batch_id, f"send {send_status}")
    return BatchStatus.CANCELLED
