"""Sends and the weekly slot as JSON: one model per shape, for `--json`, the API (and so
its OpenAPI document) and the console alike."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from briefmail.sending import weekly
from briefmail.sending.alarms import Alarm
from briefmail.sending.scheduling import WEEKDAYS, describe
from briefmail.sending.service import SendView

# The values of `db.models.SendStatus`, spelled out for the OpenAPI document
# (tests/sending/test_state_machines.py holds them equal).
SendStatusName = Literal["scheduled", "sending", "sent", "failed", "cancelled"]
AlarmKind = Literal["failed", "stalled", "slot-missed", "in-doubt"]


class AlarmOut(BaseModel):
    """Something that needs a person (see `sending.alarms`): a failed or stalled send, a
    batch in doubt, or a weekly slot that passed with approved briefs waiting."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    kind: AlarmKind
    message: str
    since: datetime
    send_id: int | None


class SendOut(BaseModel):
    """One send: `accepted` counts recipients the provider took; `errors` name failed or
    unknown batches; `notes` say why an accepted batch was settled as it was."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    brief: str
    kind: Literal["brief", "test"]
    status: SendStatusName
    scheduled_for: datetime
    recipients: int
    accepted: int
    failed: int
    cancelled: int
    queued: int
    errors: list[str]
    notes: list[str]
    batches: dict[str, int]
    started_at: datetime | None
    finished_at: datetime | None
    alarms: list[AlarmOut]

    @classmethod
    def of(cls, view: SendView) -> SendOut:
        return cls.model_validate(view)


class SendList(BaseModel):
    """Recent sends, newest first, and the alarms that belong to no send (a missed
    weekly slot)."""

    sends: list[SendOut]
    alarms: list[AlarmOut]

    @classmethod
    def of(cls, views: list[SendView], standing: list[Alarm]) -> SendList:
        return cls(
            sends=[SendOut.of(v) for v in views],
            alarms=[AlarmOut.model_validate(a) for a in standing],
        )


class QueuedBrief(BaseModel):
    slug: str
    title: str
    coverage_start: date


class ScheduleOut(BaseModel):
    """The weekly slot (all null when none is set), its next occurrence and the approved
    briefs in line for it, the first of which goes out then."""

    # "mon 09:00 America/New_York", as people read it.
    summary: str | None
    day: str | None
    time: str | None
    tz: str | None
    local_time: bool | None
    next: datetime | None
    # With local time, when the first subscribers (at UTC+14) get it.
    next_start: datetime | None
    next_brief: str | None
    queue: list[QueuedBrief]


def current_schedule(session: Session, *, now: datetime) -> ScheduleOut:
    """The slot and its queue as `schedule show` and `GET /api/v1/schedule` tell them."""
    plan = weekly.plan(session, now=now)
    rows = plan.queue if plan is not None else weekly.queued_briefs(session)
    queue = [QueuedBrief(slug=b.slug, title=b.title, coverage_start=b.coverage_start) for b in rows]
    if plan is None:
        return ScheduleOut(
            summary=None,
            day=None,
            time=None,
            tz=None,
            local_time=None,
            next=None,
            next_start=None,
            next_brief=None,
            queue=queue,
        )
    rule = plan.rule
    return ScheduleOut(
        summary=describe(rule),
        day=WEEKDAYS[rule.weekday],
        time=f"{rule.at:%H:%M}",
        tz=rule.zone_name,
        local_time=rule.local_time,
        next=plan.next_occurrence,
        next_start=plan.next_start,
        next_brief=queue[0].slug if queue else None,
        queue=queue,
    )
