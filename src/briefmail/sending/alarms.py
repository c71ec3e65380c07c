"""Alarms a marketer sees: what needs a person, read from the ledger alone.

- `failed`: a send that failed, with its reason (counted for a week after it ended);
- `stalled`: a send with work due and no progress for `stall_seconds` (nothing
  accepted, nothing started), or a due send nobody has started (no worker running?);
- `slot-missed`: the weekly slot `stall_seconds` past with approved briefs waiting and
  no send that went ahead (beat not running, or every brief in line failed);
- `in-doubt`: a batch whose outcome is unknown; it may well settle by itself (see
  `doubt`), and `sends show` says what it waits for.

A service over a session, so `sends list/show`, `/healthz`, the alarm mail and the
coming web console all show the same alarms. Each alarm's key names its incident: it
stays the same while the incident lasts, and a new incident (a send stalling again
after progress) gets a new key, so `alarm_mail.notify` mails each incident once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.db.models import Batch, BatchStatus, Send, SendStatus
from briefmail.sending import weekly
from briefmail.sending.scheduling import describe
from briefmail.sending.snapshot import snapshot_at

KINDS = ("failed", "stalled", "slot-missed", "in-doubt")
FAILED_WINDOW = timedelta(days=7)
DEFAULT_STALL_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class Alarm:
    kind: str  # one of KINDS
    key: str  # the incident: mailed once
    message: str
    since: datetime
    send_id: int | None = None


def current(session: Session, *, now: datetime, stall_seconds: float) -> list[Alarm]:
    """Every alarm standing at `now`, oldest first."""
    sends = session.scalars(
        select(Send)
        .where(
            or_(
                Send.status.in_((SendStatus.SCHEDULED, SendStatus.SENDING)),
                and_(Send.status == SendStatus.FAILED, Send.finished_at >= now - FAILED_WINDOW),
            )
        )
        .order_by(Send.id)
    ).all()
    by_send = for_sends(session, sends, now=now, stall_seconds=stall_seconds)
    found = [alarm for alarms in by_send.values() for alarm in alarms]
    missed = slot_missed(session, now=now, stall_seconds=stall_seconds)
    if missed is not None:
        found.append(missed)
    return sorted(found, key=lambda alarm: (alarm.since, alarm.key))


def counts(session: Session, *, now: datetime, stall_seconds: float) -> dict[str, int]:
    """How many alarms of each kind stand now (for `/healthz`: numbers only)."""
    found = current(session, now=now, stall_seconds=stall_seconds)
    return {kind.replace("-", "_"): sum(1 for a in found if a.kind == kind) for kind in KINDS}


def for_sends(
    session: Session, sends: Sequence[Send], *, now: datetime, stall_seconds: float
) -> dict[int, list[Alarm]]:
    """Send id -> its alarms (failed, stalled, in-doubt), for these sends."""
    found: dict[int, list[Alarm]] = {send.id: [] for send in sends}
    progress = _progress(session, [s.id for s in sends if s.status == SendStatus.SENDING], now)
    for send in sends:
        if send.status == SendStatus.FAILED:
            since = clock.as_utc(send.finished_at or send.created_at)
            message = f"{_name(send)} failed: {(send.error or 'failed').splitlines()[0]}"
            found[send.id].append(Alarm("failed", f"failed:{send.id}", message, since, send.id))
        stalled = _stalled(send, progress.get(send.id), now, stall_seconds)
        if stalled is not None:
            found[send.id].append(stalled)
    for batch_id, send_id, seq, key, updated, note, error in session.execute(
        select(
            Batch.id,
            Batch.send_id,
            Batch.seq,
            Batch.attempt_key,
            Batch.updated_at,
            Batch.doubt_note,
            Batch.error,
        )
        .where(Batch.send_id.in_(list(found)), Batch.status == BatchStatus.UNKNOWN)
        .order_by(Batch.id)
    ):
        why = note or error or "its outcome is unknown"
        found[send_id].append(
            Alarm(
                "in-doubt",
                f"in-doubt:{batch_id}:{key}",
                f"send {send_id}: batch {seq} (id {batch_id}) is in doubt: {why}",
                clock.as_utc(updated),
                send_id,
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class _Progress:
    last: datetime | None  # the latest acceptance, or a never-tried batch falling due
    owed: int  # open batches with work due: pending and due, retrying, in flight, in doubt


def _progress(session: Session, send_ids: Sequence[int], now: datetime) -> dict[int, _Progress]:
    if not send_ids:
        return {}
    pending = Batch.status == BatchStatus.PENDING
    fresh_due = and_(pending, Batch.attempts == 0, Batch.due_at <= now)
    owed = or_(
        Batch.status.in_((BatchStatus.SENDING, BatchStatus.UNKNOWN)),
        and_(pending, or_(Batch.due_at <= now, Batch.attempts > 0)),
    )
    rows = session.execute(
        select(
            Batch.send_id,
            func.max(Batch.accepted_at),
            func.max(case((fresh_due, Batch.due_at))),
            func.count(case((owed, 1))),
        )
        .where(Batch.send_id.in_(send_ids))
        .group_by(Batch.send_id)
    )
    result = {}
    for send_id, accepted, due, owing in rows:
        times = [clock.as_utc(t) for t in (accepted, due) if t is not None]
        result[send_id] = _Progress(max(times, default=None), int(owing or 0))
    return result


def _stalled(
    send: Send, progress: _Progress | None, now: datetime, stall_seconds: float
) -> Alarm | None:
    stall = timedelta(seconds=stall_seconds)
    if send.status == SendStatus.SCHEDULED:
        due = snapshot_at(send)
        if now - due < stall:
            return None
        message = (
            f"{_name(send)} has been due since {due.isoformat(timespec='minutes')} and no "
            "worker has started it (is `briefmail worker` running?)"
        )
        return Alarm("stalled", f"stalled:{send.id}:{due.isoformat()}", message, due, send.id)
    if send.status != SendStatus.SENDING:
        return None
    writing = send.snapshot_by is not None
    if not writing and (progress is None or progress.owed == 0):
        return None  # nothing due (a local-time send waiting for its next zone)
    times = [clock.as_utc(t) for t in (send.started_at, send.snapshot_at) if t is not None]
    if progress is not None and progress.last is not None:
        times.append(progress.last)
    last = max(times, default=clock.as_utc(send.created_at))
    if now - last < stall:
        return None
    minutes = int((now - last).total_seconds() // 60)
    message = (
        f"{_name(send)} has made no progress for {minutes} min (since "
        f"{last.isoformat(timespec='minutes')}); `briefmail sends show {send.id}` says what waits"
    )
    return Alarm("stalled", f"stalled:{send.id}:{last.isoformat()}", message, last, send.id)


def slot_missed(session: Session, *, now: datetime, stall_seconds: float) -> Alarm | None:
    """The weekly slot's latest occurrence, `stall_seconds` past, if it sent nothing
    while approved briefs were waiting."""
    slot = weekly.active_slot(session)
    if slot is None:
        return None
    rule = weekly.rule_of(slot)
    day = rule.current_day(now)
    start, occurrence = rule.start(day), rule.occurrence(day)
    if start < clock.as_utc(slot.created_at) or now - start < timedelta(seconds=stall_seconds):
        return None
    taken, tried = weekly.occurrence_sends(session, slot, occurrence)
    waiting = weekly.queued_briefs(session)
    if taken or not waiting:
        return None
    failed = f"; {len(tried)} of them failed to start (see `briefmail sends list`)" if tried else ""
    message = (
        f"the weekly slot ({describe(rule)}) of {occurrence.isoformat(timespec='minutes')} "
        f"passed with {len(waiting)} approved brief(s) waiting and no send{failed}"
    )
    return Alarm("slot-missed", f"slot-missed:{slot.id}:{occurrence.isoformat()}", message, start)


def _name(send: Send) -> str:
    kind = "proof" if send.kind == "test" else "send"
    return f"{kind} {send.id} of {send.brief.slug}"
