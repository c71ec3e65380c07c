"""The standing weekly slot: which brief goes out at the next occurrence.

Nothing is scheduled ahead: at each tick the current occurrence is computed from the
slot row and, if it has begun and has no send yet, the oldest approved brief that
was never sent gets one. Approving a brief the day before the slot is therefore
enough, and a second tick (or a second beat) finds the send already there: one
brief per slot. The slot row is locked while deciding, so two workers cannot both
create the occurrence's send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import ColumnElement, exists, select, update
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.db.dialect import begin_write, lock_rows
from briefmail.db.models import Brief, Send, WeeklySlot
from briefmail.sending import send_states
from briefmail.sending.failures import went_ahead
from briefmail.sending.scheduling import (
    WeeklyRule,
    parse_time_of_day,
    parse_weekday,
    zone,
)

SLOT_CREATOR = "weekly slot"


def rule_of(slot: WeeklySlot) -> WeeklyRule:
    return WeeklyRule(
        weekday=slot.weekday,
        at=time.fromisoformat(slot.time_of_day),
        zone_name=slot.timezone,
        local_time=slot.local_time,
    )


def set_weekly_slot(
    session: Session, *, day: str, at: str, tz: str, local_time: bool, now: datetime
) -> WeeklySlot:
    """Replace the standing slot (the old one is kept, inactive, for the record)."""
    weekday = parse_weekday(day)
    time_of_day = parse_time_of_day(at)
    zone(tz)
    session.execute(update(WeeklySlot).where(WeeklySlot.active.is_(True)).values(active=False))
    slot = WeeklySlot(
        weekday=weekday,
        time_of_day=f"{time_of_day:%H:%M}",
        timezone=tz.strip(),
        local_time=local_time,
        active=True,
        created_at=now,
    )
    session.add(slot)
    session.flush()
    return slot


def active_slot(session: Session) -> WeeklySlot | None:
    return session.scalars(
        select(WeeklySlot).where(WeeklySlot.active.is_(True)).order_by(WeeklySlot.id.desc())
    ).first()


def never_sent() -> ColumnElement[bool]:
    """No real send of the brief exists (a cancelled one counts: cancelling was a choice;
    one that failed before it started does not: nobody was put in line, so the brief
    stays in line for the next slot)."""
    return ~exists().where(Send.brief_id == Brief.id, Send.kind == "brief", went_ahead())


def queued_briefs(session: Session) -> list[Brief]:
    """Approved briefs never sent, in the order the slot takes them: oldest week first."""
    return list(
        session.scalars(
            select(Brief)
            .where(Brief.status == "approved", never_sent())
            .order_by(Brief.coverage_start, Brief.id)
        )
    )


@dataclass(frozen=True, slots=True)
class SlotPlan:
    """What `schedule show` tells: the slot, its next occurrence, the briefs in line."""

    slot: WeeklySlot
    rule: WeeklyRule
    next_occurrence: datetime
    next_start: datetime
    queue: list[Brief]


def plan(session: Session, *, now: datetime) -> SlotPlan | None:
    slot = active_slot(session)
    if slot is None:
        return None
    rule = rule_of(slot)
    queue = queued_briefs(session)
    day = rule.current_day(now)
    taken, tried = occurrence_sends(session, slot, rule.occurrence(day))
    untried = [brief for brief in queue if brief.id not in tried]
    if taken or not untried or rule.start(day) < clock.as_utc(slot.created_at):
        # Otherwise the current occurrence is due and the next tick takes it.
        day = rule.next_day(now)
    return SlotPlan(slot, rule, rule.occurrence(day), rule.start(day), queue)


def occurrence_sends(
    session: Session, slot: WeeklySlot, occurrence: datetime
) -> tuple[bool, set[int]]:
    """Whether the occurrence has its send, and the briefs whose send for it failed
    before starting (the slot passes over them to the next brief in line)."""
    window = timedelta(seconds=1)
    rows = session.execute(
        select(Send.brief_id, went_ahead()).where(
            Send.weekly_slot_id == slot.id,
            Send.scheduled_for >= occurrence - window,
            Send.scheduled_for <= occurrence + window,
        )
    ).all()
    return any(ahead for _, ahead in rows), {brief for brief, ahead in rows if not ahead}


def fire_due_slot(session: Session, *, now: datetime) -> int | None:
    """Create the send for the occurrence that has begun, if it has none; its id or None.

    A send that failed before starting does not count as the occurrence's send: the
    next tick creates one for the next brief in line."""
    begin_write(session)
    slot = (
        session.execute(
            lock_rows(session, select(WeeklySlot).where(WeeklySlot.active.is_(True)), WeeklySlot)
        )
        .scalars()
        .first()
    )
    if slot is None:
        session.rollback()
        return None
    rule = rule_of(slot)
    day = rule.current_day(now)
    occurrence = rule.occurrence(day)
    taken, tried = occurrence_sends(session, slot, occurrence)
    if rule.start(day) < clock.as_utc(slot.created_at) or taken:
        session.rollback()
        return None
    # A brief that failed to start at this occurrence is passed over (its failure is
    # on its send and raised as an alarm); the next in line goes instead.
    queue = [brief for brief in queued_briefs(session) if brief.id not in tried]
    brief = queue[0] if queue else None
    if brief is None:
        session.rollback()
        return None
    send = send_states.new_send(
        brief_id=brief.id,
        kind="brief",
        scheduled_for=occurrence,
        local_time=rule.local_time,
        local_time_of_day=f"{rule.at:%H:%M}",
        local_timezone=rule.zone_name,
        weekly_slot_id=slot.id,
        created_by=SLOT_CREATOR,
        created_at=now,
    )
    session.add(send)
    session.commit()
    return send.id
