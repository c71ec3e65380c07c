"""`/console/reports`: one brief's figures with the report's own SVG charts, and the
trend across briefs (click rate, unsubscribes and bounces per brief).

The figures and charts are `briefmail report`'s (`reports.figures`, `reports.charts`):
the same definitions of human, filtered and click rate everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from briefmail.accounts.roles import Permission
from briefmail.console.auth import Visit, guard
from briefmail.console.context import console
from briefmail.db.models import Brief, Send
from briefmail.reports.charts import clicks_over_time, link_bars
from briefmail.reports.figures import BriefReport, brief_report
from briefmail.reports.html_report import NARROW

TREND_BRIEFS = 52


@dataclass(frozen=True, slots=True)
class Charts:
    bars: Markup
    bars_narrow: Markup
    line: Markup
    line_narrow: Markup

    @classmethod
    def of(cls, report: BriefReport) -> Charts:
        # Built by `reports.charts` with every text escaped.
        return cls(
            bars=Markup(link_bars(report.links)),  # noqa: S704
            bars_narrow=Markup(  # noqa: S704
                link_bars(report.links, width=NARROW, stacked=True, key="bars-narrow")
            ),
            line=Markup(clicks_over_time(report.timeline)),  # noqa: S704
            line_narrow=Markup(  # noqa: S704
                clicks_over_time(report.timeline, width=NARROW, height=200, key="line-narrow")
            ),
        )


@guard(Permission.REPORTS_READ)
async def report_page(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    report = await ctx.db(brief_report, request.path_params["slug"])
    return ctx.renderer.page(
        request,
        visit,
        "report.html",
        title=f"Report: {report.title}",
        report=report,
        charts=Charts.of(report),
    )


def trend(session: Session) -> list[BriefReport]:
    """The figures of every brief with a real send, newest coverage first."""
    sent = select(Send.brief_id).where(Send.kind == "brief")
    slugs = session.scalars(
        select(Brief.slug)
        .where(Brief.id.in_(sent))
        .order_by(Brief.coverage_start.desc())
        .limit(TREND_BRIEFS)
    ).all()
    return [brief_report(session, slug) for slug in slugs]


@guard(Permission.REPORTS_READ)
async def trends(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    reports = await ctx.db(trend)
    return ctx.renderer.page(request, visit, "reports.html", title="Reports", reports=reports)
