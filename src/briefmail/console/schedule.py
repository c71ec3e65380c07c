"""`/console/schedule`: the weekly slot and the approved briefs in line for it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from briefmail import clock
from briefmail.accounts import audit
from briefmail.accounts.audit import Action
from briefmail.accounts.roles import Permission
from briefmail.console.auth import Visit, back, guard
from briefmail.console.briefs import refused
from briefmail.console.context import console
from briefmail.errors import BriefmailError
from briefmail.sending import weekly
from briefmail.sending.scheduling import WEEKDAYS, describe


@dataclass(frozen=True, slots=True)
class InLine:
    slug: str
    title: str
    coverage_start: str


@dataclass(frozen=True, slots=True)
class SchedulePage:
    slot: str | None
    day: str
    time: str
    tz: str
    local_time: bool
    next_at: str | None
    first_start: str | None  # local-time sends: when the first zone gets it
    queue: list[InLine]


def load(session: Session) -> SchedulePage:
    plan = weekly.plan(session, now=clock.now())
    queue = [
        InLine(b.slug, b.title, b.coverage_start.isoformat()) for b in weekly.queued_briefs(session)
    ]
    if plan is None:
        return SchedulePage(None, "mon", "09:00", "UTC", False, None, None, queue)
    rule = plan.rule
    return SchedulePage(
        slot=describe(rule),
        day=WEEKDAYS[rule.weekday],
        time=f"{rule.at:%H:%M}",
        tz=rule.zone_name,
        local_time=rule.local_time,
        next_at=plan.next_occurrence.strftime("%a %Y-%m-%d %H:%M UTC"),
        first_start=plan.next_start.strftime("%a %Y-%m-%d %H:%M UTC") if rule.local_time else None,
        queue=queue,
    )


@guard(Permission.SCHEDULE_READ)
async def schedule_page(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    page = await ctx.db(load)
    return ctx.renderer.page(
        request, visit, "schedule.html", title="Schedule", page=page, weekdays=WEEKDAYS
    )


@guard(Permission.SCHEDULE_MANAGE)
async def set_slot(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    day, at, tz = visit.field("day"), visit.field("time"), visit.field("tz")
    local_time = visit.field("local_time") == "on"

    def run(session: Session) -> None:
        now = clock.now()
        slot = weekly.set_weekly_slot(
            session, day=day, at=at, tz=tz, local_time=local_time, now=now
        )
        audit.record(
            session,
            visit.actor,
            Action.SCHEDULE_SET,
            "weekly slot",
            now=now,
            detail={"slot": describe(weekly.rule_of(slot))},
        )

    try:
        await ctx.db(run)
    except BriefmailError as exc:
        return refused(request, visit, exc, "/console/schedule")
    return back("/console/schedule", "slot")
