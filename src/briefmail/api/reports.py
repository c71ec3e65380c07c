"""A brief's report: the JSON of `briefmail report SLUG --json`."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from briefmail.api.auth import Caller, scope
from briefmail.api.context import ApiContext, api_context
from briefmail.api.problems import responses
from briefmail.reports.figures import brief_report
from briefmail.reports.views import ReportOut

router = APIRouter(tags=["reports"])


@router.get("/reports/{slug}", response_model=ReportOut, responses=responses(401, 403, 404))
def report(
    slug: str, _: Caller = scope("read"), ctx: ApiContext = Depends(api_context)
) -> ReportOut:
    """Recipients, deliveries, and human and filtered clicks per link, topic and hour."""
    with ctx.transaction() as session:
        return ReportOut.of(brief_report(session, slug))
