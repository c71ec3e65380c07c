"""`/console/`: what goes out next, what is going out now, how the last brief did, and
anything that needs a person."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from briefmail import clock
from briefmail.accounts.roles import Permission, can
from briefmail.console.auth import Visit, guard
from briefmail.console.context import console
from briefmail.db.models import Brief, Send
from briefmail.reports.figures import BriefReport, brief_report
from briefmail.sending import alarms, service
from briefmail.sending.alarms import Alarm
from briefmail.sending.service import SendView
from briefmail.sending.views import ScheduleOut, current_schedule


@dataclass(frozen=True, slots=True)
class Dashboard:
    schedule: ScheduleOut
    active: list[SendView]
    last: BriefReport | None
    alarms: list[Alarm]


def _last_report(session: Session) -> BriefReport | None:
    """The figures of the brief whose real send finished last."""
    slug = session.scalar(
        select(Brief.slug)
        .join(Send, Send.brief_id == Brief.id)
        .where(Send.kind == "brief", Send.status == "sent")
        .order_by(Send.finished_at.desc(), Send.id.desc())
        .limit(1)
    )
    return None if slug is None else brief_report(session, slug)


def load(session: Session, *, reports: bool, stall_seconds: float) -> Dashboard:
    now = clock.now()
    listed = service.list_sends(session, limit=50, stall_seconds=stall_seconds)
    active = [v for v in listed if not v.finished]
    return Dashboard(
        schedule=current_schedule(session, now=now),
        active=active,
        last=_last_report(session) if reports else None,
        alarms=alarms.current(session, now=now, stall_seconds=stall_seconds),
    )


@guard(Permission.BRIEFS_READ)
async def dashboard(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    data = await ctx.db(
        load,
        reports=can(visit.role, Permission.REPORTS_READ),
        stall_seconds=ctx.settings.send_stall_seconds,
    )
    return ctx.renderer.page(request, visit, "dashboard.html", title="Dashboard", data=data)
