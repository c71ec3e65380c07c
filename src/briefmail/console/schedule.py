"""`/console/schedule`: the weekly slot and the approved briefs in line for it, as
`briefmail schedule show` tells them (`sending.views.current_schedule`)."""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from briefmail import clock
from briefmail.accounts import audit
from briefmail.accounts.audit import Action
from briefmail.accounts.roles import Permission
from briefmail.console.auth import Visit, back, guard, refused
from briefmail.console.context import console
from briefmail.errors import BriefmailError
from briefmail.sending import weekly
from briefmail.sending.scheduling import WEEKDAYS, describe
from briefmail.sending.views import current_schedule


@guard(Permission.SCHEDULE_READ)
async def schedule_page(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    schedule = await ctx.db(lambda session: current_schedule(session, now=clock.now()))
    return ctx.renderer.page(
        request, visit, "schedule.html", title="Schedule", schedule=schedule, weekdays=WEEKDAYS
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
