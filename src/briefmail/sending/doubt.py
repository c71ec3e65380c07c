"""Batches in doubt settle themselves, once silence is evidence.

A batch is `unknown` when its request may have left and no answer was recorded: its
worker died mid-request, or the answer never came. Provider events of one of its
attempts prove that attempt went out, and settle it as accepted
(`ledger.settle_unknown_by_events`). This module gives the other verdict. SendGrid
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

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.db.dialect import begin_write, rowcount
from briefmail.db.models import Batch, Delivery, Send
from briefmail.sending import evidence


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


def review(session: Session, *, now: datetime, policy: DoubtPolicy) -> list[int]:
    """Take out of doubt the `unknown` batches whose silence is evidence (resent, or
    cancelled when their send is no longer running); note why the others wait.
    Returns the batches taken out of doubt. One transaction; commits."""
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
        .where(Batch.status == "unknown")
        .order_by(Batch.id)
    ).all()
    decided: list[int] = []
    for batch_id, key, claimed, updated, note, send_status in rows:
        attempted = clock.as_utc(claimed or updated)
        verdict = assess(session, batch_id, attempted, now=now, policy=policy)
        if verdict.resend:
            if _take_out(session, batch_id, key, verdict.note, send_status, now):
                decided.append(batch_id)
        elif verdict.note != note:
            # The note only: `updated_at` stays, it dates the batch's last real change.
            session.execute(
                update(Batch)
                .where(Batch.id == batch_id, Batch.status == "unknown", Batch.attempt_key == key)
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
) -> bool:
    values: dict[str, object]
    if send_status == "sending":
        values = {"status": "pending", "due_at": now, "error": f"resending: {note}"}
    else:  # the send was cancelled or failed meanwhile: nothing of it goes any more
        values = {"status": "cancelled", "error": f"{note}; not resent: the send is {send_status}"}
    moved = session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.status == "unknown", Batch.attempt_key == key)
        .values(**values, doubt_note=None, claimed_by=None, updated_at=now)
    )
    if rowcount(moved) != 1:
        return False
    if values["status"] == "cancelled":
        session.execute(
            update(Delivery)
            .where(Delivery.batch_id == batch_id, Delivery.status == "queued")
            .values(status="cancelled", error=f"send {send_status}")
            .execution_options(synchronize_session=False)
        )
    return True
