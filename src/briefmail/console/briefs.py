"""`/console/briefs`: the briefs, uploading one, a brief's page and what it leads to.

Uploading parses the file as `briefmail brief import` does: a bad brief shows every
`line: field: message` and stores nothing. A brief's page shows the email as a sample
subscriber gets it, in two frames (desktop, and a phone at 375 px) fed by
`preview.html`, a response of its own that only the console may frame. Approving,
proofs, sending and scheduling call the same services as the CLI, each checked
against the person's role and written to the audit log in the same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache

from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from briefmail import clock
from briefmail.accounts import audit
from briefmail.accounts.audit import Action
from briefmail.accounts.roles import Permission, can
from briefmail.audience.segment import AudienceCount, brief_audience
from briefmail.briefs.errors import BriefValidationError, Problem
from briefmail.briefs.parse import parse_brief, parse_bytes
from briefmail.briefs.store import approve_brief, get_brief, list_briefs
from briefmail.briefs.views import BriefOut
from briefmail.console.auth import Visit, back, guard, refused
from briefmail.console.context import ConsoleContext, console
from briefmail.console.headers import PREVIEW_POLICY
from briefmail.errors import BriefmailError, InvalidInputError
from briefmail.preview.build import Preview, PreviewOptions, preview_brief
from briefmail.preview.intake import take_in
from briefmail.preview.server import size_label
from briefmail.sending import service
from briefmail.sending.scheduling import zone
from briefmail.sending.weekly import active_slot
from briefmail.web.dispatch import start_send

MAX_BRIEF_BYTES = 1024 * 1024
_ADDRESSES = re.compile(r"[\s,;]+")


def problem_line(problem: Problem) -> str:
    """`line: field: message`: the file is the one just chosen, so its name is left out."""
    return f"{problem.line}: {problem.field}: {problem.message}"


async def _render_list(
    request: Request, visit: Visit, status: int = 200, *, problems: list[str] | None = None
) -> Response:
    ctx = console(request)
    briefs: list[BriefOut] = await ctx.db(
        lambda session: [BriefOut.of(row) for row in list_briefs(session)]
    )
    return ctx.renderer.page(
        request,
        visit,
        "briefs.html",
        status,
        title="Briefs",
        briefs=briefs,
        problems=problems or [],
    )


@guard(Permission.BRIEFS_READ)
async def list_page(request: Request, visit: Visit) -> Response:
    return await _render_list(request, visit)


@guard(Permission.BRIEFS_IMPORT, upload=True)
async def upload(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    upload = visit.form.get("brief") if visit.form is not None else None
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _render_list(request, visit, 422, problems=["1: file: choose a brief file"])
    data = await upload.read(MAX_BRIEF_BYTES + 1)
    if len(data) > MAX_BRIEF_BYTES:
        message = f"1: file: over {MAX_BRIEF_BYTES // 1024} KB; a brief is a text file"
        return await _render_list(request, visit, 422, problems=[message])
    name = upload.filename[:200]
    try:
        brief = parse_bytes(data, name)
    except BriefValidationError as exc:
        lines = [problem_line(p) for p in exc.problems]
        return await _render_list(request, visit, 422, problems=lines)

    def store(session: Session) -> str:
        stored = take_in(session, brief, ctx.preview)
        if stored.outcome != "unchanged":
            audit.record(
                session,
                visit.actor,
                Action.BRIEF_IMPORT,
                stored.slug,
                now=clock.now(),
                detail={"outcome": stored.outcome, "file": name},
            )
        return stored.slug

    slug = await ctx.db(store)
    return RedirectResponse(f"/console/briefs/{slug}", status_code=303)


@lru_cache(maxsize=16)
def _preview(source: str, path: str, options: PreviewOptions) -> Preview:
    """The sample subscriber's email of a stored text (a page shows it three times)."""
    return preview_brief(parse_brief(source, path), options)


def preview_of(session: Session, slug: str, options: PreviewOptions) -> Preview:
    row = get_brief(session, slug)
    return _preview(row.source, row.source_path or f"<brief {row.slug}>", options)


@dataclass(frozen=True, slots=True)
class BriefPage:
    summary: BriefOut
    preview: Preview
    audience: AudienceCount | None
    html_size: str
    sends: list[service.SendView]


def _load_page(session: Session, slug: str, ctx: ConsoleContext, *, audience: bool) -> BriefPage:
    row = get_brief(session, slug)
    preview = preview_of(session, slug, ctx.preview)
    sends = [v for v in service.list_sends(session, limit=200) if v.brief == row.slug]
    return BriefPage(
        summary=BriefOut.of(row),
        preview=preview,
        audience=brief_audience(session, slug)[1] if audience else None,
        html_size=size_label(preview.html_bytes),
        sends=sends[:10],
    )


@guard(Permission.BRIEFS_READ)
async def brief_page(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    slug = request.path_params["slug"]
    page = await ctx.db(_load_page, slug, ctx, audience=can(visit.role, Permission.AUDIENCE_READ))
    default_zone = await ctx.db(_default_zone)
    return ctx.renderer.page(
        request,
        visit,
        "brief.html",
        title=page.summary.title,
        page=page,
        default_zone=default_zone,
        today=clock.now().date().isoformat(),
    )


def _default_zone(session: Session) -> str:
    slot = active_slot(session)
    return slot.timezone if slot is not None else "UTC"


@guard(Permission.BRIEFS_READ)
async def preview_html(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    preview = await ctx.db(preview_of, request.path_params["slug"], ctx.preview)
    return HTMLResponse(
        preview.html,
        headers={
            "content-security-policy": PREVIEW_POLICY,
            "x-frame-options": "SAMEORIGIN",
            "cache-control": "no-store",
        },
    )


@guard(Permission.BRIEFS_APPROVE)
async def approve(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    slug = request.path_params["slug"]

    def run(session: Session) -> str:
        row = approve_brief(session, slug, visit.email)
        audit.record(
            session,
            visit.actor,
            Action.BRIEF_APPROVE,
            row.slug,
            now=clock.now(),
            detail={"content_hash": row.content_hash},
        )
        return row.slug

    try:
        done = await ctx.db(run)
    except BriefmailError as exc:
        return refused(request, visit, exc, f"/console/briefs/{slug}")
    return back(f"/console/briefs/{done}", "approved")


@guard(Permission.SENDS_PROOF)
async def proof(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    slug = request.path_params["slug"]
    addresses = [a for a in _ADDRESSES.split(visit.field("addresses")) if a]

    def run(session: Session) -> int:
        now = clock.now()
        row = service.request_send(
            session,
            slug,
            at=None,
            now=now,
            test_to=addresses,
            by=visit.email,
            check_fit=ctx.check_fit,
        )
        audit.record(
            session,
            visit.actor,
            Action.SEND_PROOF,
            f"send {row.id} of {slug}",
            now=now,
            detail={"to": row.test_to},
        )
        return row.id

    try:
        send_id = await ctx.db(run)
    except BriefmailError as exc:
        return refused(request, visit, exc, f"/console/briefs/{slug}")
    start_send(ctx.settings, send_id)
    return back(f"/console/sends/{send_id}", "proof")


def _when(visit: Visit) -> datetime | None:
    """The time asked for by the Schedule form (None: now); InvalidInputError if unclear."""
    if visit.field("mode") != "at":
        return None
    day_text, time_text, tz = visit.field("date"), visit.field("time"), visit.field("tz")
    try:
        day, at = date.fromisoformat(day_text), time.fromisoformat(time_text)
    except ValueError:
        raise InvalidInputError(
            f"date and time: {day_text!r} {time_text!r} is not a date (YYYY-MM-DD) and a "
            "time (HH:MM)"
        ) from None
    return datetime.combine(day, at, tzinfo=zone(tz or "UTC"))


@guard(Permission.SENDS_CREATE)
async def send(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    slug = request.path_params["slug"]

    topics = [t for t in visit.form.getlist("topics") if isinstance(t, str)] if visit.form else []

    def run(session: Session) -> tuple[int, bool]:
        now = clock.now()
        at = _when(visit)
        row = service.request_send(
            session,
            slug,
            at=at,
            now=now,
            topics=topics or None,
            by=visit.email,
            check_fit=ctx.check_fit,
        )
        scheduled = clock.as_utc(row.scheduled_for)
        audit.record(
            session,
            visit.actor,
            Action.SEND_CREATE,
            f"send {row.id} of {slug}",
            now=now,
            detail={"scheduled_for": scheduled.isoformat(), "topics": row.topics_filter},
        )
        return row.id, scheduled <= now

    try:
        send_id, due = await ctx.db(run)
    except BriefmailError as exc:
        return refused(request, visit, exc, f"/console/briefs/{slug}")
    if due:
        start_send(ctx.settings, send_id)
    return back(f"/console/sends/{send_id}", "sending" if due else "scheduled")
