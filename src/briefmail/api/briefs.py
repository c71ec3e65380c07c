"""Briefs: upload (parsed by the brief parser, every problem at once, nothing stored
when there is one), list, preview, approve, and who a brief would reach."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from briefmail import clock
from briefmail.accounts import audit
from briefmail.api.auth import Caller, scope
from briefmail.api.context import ApiContext, api_context
from briefmail.api.problems import ApiProblem, about, responses
from briefmail.audience.segment import brief_audience
from briefmail.audience.topics import parse_topic_list
from briefmail.audience.views import AudienceOut
from briefmail.briefs.parse import parse_bytes
from briefmail.briefs.store import approve_brief, get_brief, list_briefs, parsed
from briefmail.briefs.views import BriefList, BriefOut, BriefStored
from briefmail.preview.build import preview_brief
from briefmail.preview.intake import take_in

router = APIRouter(tags=["briefs"])
# What the brief parser calls the body in its problems (never shown: problems carry
# line and field only).
UPLOAD_NAME = "<request body>"
BRIEF_TYPES = ("text/markdown", "text/plain")


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: str = Field(min_length=1, max_length=200, description="Who approves it.")


@router.post(
    "/briefs",
    response_model=BriefStored,
    status_code=201,
    summary="Upload a brief file",
    description="The body is a brief file (Markdown with YAML front matter). 201 when it "
    "was created or changed (a changed brief is a draft again), 200 when unchanged. A bad "
    "brief is 422 with every problem in `errors` (`line`, `field`, `message`); nothing is "
    "stored then.",
    responses={
        200: {"description": "Unchanged", "model": BriefStored},
        **responses(401, 403, 413, 415, 422),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/markdown": {"schema": {"type": "string"}}},
        }
    },
)
async def upload_brief(
    request: Request, response: Response, caller: Caller = scope("briefs:write")
) -> BriefStored:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in BRIEF_TYPES:
        raise ApiProblem(415, "send the brief file as Content-Type: text/markdown")
    data = await request.body()
    ctx = api_context(request)
    stored = await run_in_threadpool(_store, ctx, data, caller)
    response.status_code = 200 if stored.outcome == "unchanged" else 201
    return stored


def _store(ctx: ApiContext, data: bytes, caller: Caller) -> BriefStored:
    brief = parse_bytes(data, UPLOAD_NAME)
    with ctx.transaction() as session:
        stored = take_in(session, brief, ctx.preview)
        if stored.outcome != "unchanged":
            audit.record(
                session,
                caller.actor,
                audit.Action.BRIEF_IMPORT,
                stored.slug,
                now=clock.now(),
                detail={"outcome": stored.outcome},
            )
    return stored


@router.get("/briefs", response_model=BriefList, responses=responses(401, 403))
def briefs(_: Caller = scope("read"), ctx: ApiContext = Depends(api_context)) -> BriefList:
    """Every stored brief, newest coverage first."""
    with ctx.transaction() as session:
        return BriefList(briefs=[BriefOut.of(row) for row in list_briefs(session)])


@router.get("/briefs/{slug}", response_model=BriefOut, responses=responses(401, 403, 404))
def brief(slug: str, _: Caller = scope("read"), ctx: ApiContext = Depends(api_context)) -> BriefOut:
    """One stored brief."""
    with ctx.transaction() as session:
        return BriefOut.of(get_brief(session, slug))


@router.get(
    "/briefs/{slug}/preview.html",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}, **responses(401, 403, 404)},
)
def preview(
    slug: str, _: Caller = scope("read"), ctx: ApiContext = Depends(api_context)
) -> HTMLResponse:
    """The email's HTML as a sample subscriber gets it (links go straight to their
    destinations, unsubscribe links are real signed URLs for a sample subscriber)."""
    with ctx.transaction() as session:
        brief = parsed(get_brief(session, slug))
    return HTMLResponse(preview_brief(brief, ctx.preview).html)


@router.post(
    "/briefs/{slug}/approve",
    response_model=BriefOut,
    responses=responses(401, 403, 404, 409, 422),
)
def approve(
    slug: str,
    body: ApproveIn,
    caller: Caller = scope("briefs:write"),
    ctx: ApiContext = Depends(api_context),
) -> BriefOut:
    """Approve the stored text of a draft for sending; 409 when it is not a draft."""
    with ctx.transaction() as session:
        row = approve_brief(session, slug, body.by)
        audit.record(
            session,
            caller.actor,
            audit.Action.BRIEF_APPROVE,
            row.slug,
            now=clock.now(),
            detail={"by": row.approved_by},
        )
        return BriefOut.of(row)


@router.get(
    "/briefs/{slug}/audience",
    response_model=AudienceOut,
    responses=responses(401, 403, 404, 422),
)
def audience(
    slug: str,
    topics: Annotated[
        str | None, Query(description="Comma-separated topics of the brief to narrow to.")
    ] = None,
    _: Caller = scope("read"),
    ctx: ApiContext = Depends(api_context),
) -> AudienceOut:
    """Who the brief reaches, as `briefmail audience SLUG --json`."""
    narrow = parse_topic_list(topics, ",") if topics is not None else None
    with ctx.transaction() as session, about("topics"):
        count = brief_audience(session, slug, narrow)[1]
        return AudienceOut.of(count)
