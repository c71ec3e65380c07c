"""`/console/subscribers`: find, add, import, unsubscribe, suppress and export.

Every change goes through the audience services the CLI uses (`briefmail subscribers
…`), so an import here never re-activates anyone and a suppressed address stays out
of every send, exactly as there.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from briefmail import clock
from briefmail.accounts import audit
from briefmail.accounts.audit import Action
from briefmail.accounts.roles import Permission
from briefmail.audience import subscribers as people
from briefmail.audience import suppression
from briefmail.audience.csv_import import ImportResult, import_csv_stream, write_csv
from briefmail.audience.subscribers import SubscriberView
from briefmail.audience.topics import TopicCount, list_topics
from briefmail.console.auth import Visit, guard, refused
from briefmail.console.context import console
from briefmail.db.models import SUBSCRIBER_STATUSES
from briefmail.errors import BriefmailError, InvalidInputError

PAGE_SIZE = 50
MAX_CSV_BYTES = 8 * 1024 * 1024
SHOWN_PROBLEMS = 200


@dataclass(frozen=True, slots=True)
class Filters:
    q: str
    status: str
    topic: str
    after: int

    @classmethod
    def of(cls, request: Request) -> Filters:
        params = request.query_params
        status = params.get("status", "")
        after = params.get("after", "0")
        return cls(
            q=params.get("q", "").strip()[:320],
            status=status if status in SUBSCRIBER_STATUSES else "",
            topic=params.get("topic", "").strip()[:80],
            after=int(after) if after.isdigit() else 0,
        )


@dataclass(frozen=True, slots=True)
class ListPage:
    rows: list[SubscriberView]
    next_after: int | None
    topics: tuple[TopicCount, ...]
    all_topics: int


def _page(session: Session, f: Filters) -> ListPage:
    rows, next_after = people.page_subscribers(
        session,
        status=f.status or None,
        topic=f.topic or None,
        q=f.q or None,
        after=f.after,
        limit=PAGE_SIZE,
    )
    listing = list_topics(session)
    return ListPage(rows, next_after, listing.topics, listing.all_topics)


async def _render(
    request: Request,
    visit: Visit,
    status: int = 200,
    *,
    imported: ImportResult | None = None,
    problems: list[str] | None = None,
) -> Response:
    ctx = console(request)
    filters = Filters.of(request)
    page = await ctx.db(_page, filters)
    return ctx.renderer.page(
        request,
        visit,
        "subscribers.html",
        status,
        title="Subscribers",
        page=page,
        filters=filters,
        statuses=SUBSCRIBER_STATUSES,
        imported=imported,
        problems=problems or [],
    )


@guard(Permission.SUBSCRIBERS_READ)
async def list_page(request: Request, visit: Visit) -> Response:
    return await _render(request, visit)


@guard(Permission.SUBSCRIBERS_MANAGE)
async def add(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    email = visit.field("email")
    topics = [t for t in visit.form.getlist("topics") if isinstance(t, str)] if visit.form else []

    def run(session: Session) -> str:
        result = people.add_subscriber(
            session, email, name=visit.field("name"), topics=topics, refuse_stopped=True
        )
        row = result.subscriber
        action = Action.SUBSCRIBER_ADD if result.created else Action.SUBSCRIBER_UPDATE
        audit.record(
            session,
            visit.actor,
            action,
            row.email,
            now=clock.now(),
            detail={"topics": sorted(t.slug for t in row.topics), "status": row.status},
        )
        return row.email

    try:
        address = await ctx.db(run)
    except BriefmailError as exc:
        return refused(request, visit, exc, "/console/subscribers")
    return RedirectResponse(f"/console/subscribers?q={quote(address, safe='')}&done=added", 303)


@guard(Permission.SUBSCRIBERS_MANAGE, upload=True)
async def import_csv(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    upload = visit.form.get("file") if visit.form is not None else None
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _render(request, visit, 422, problems=["choose a CSV file"])
    data = await upload.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        limit = MAX_CSV_BYTES // (1024 * 1024)
        message = f"over {limit} MB: import larger files with `briefmail subscribers import`"
        return await _render(request, visit, 422, problems=[message])
    name = upload.filename[:200]

    def run(session: Session) -> ImportResult:
        result = import_csv_stream(session, io.BytesIO(data), name, size=len(data))
        audit.record(
            session,
            visit.actor,
            Action.SUBSCRIBERS_IMPORT,
            name,
            now=clock.now(),
            detail={
                "added": result.added,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "skipped": result.skipped,
            },
        )
        return result

    try:
        result = await ctx.db(run)
    except InvalidInputError as exc:  # the whole file: no header, not UTF-8 ...
        return await _render(request, visit, 422, problems=str(exc).splitlines())
    return await _render(request, visit, imported=result)


@guard(Permission.SUBSCRIBERS_READ)
async def export(request: Request, visit: Visit) -> Response:
    ctx = console(request)

    def run(session: Session) -> str:
        out = io.StringIO()
        rows = write_csv(session, out)
        audit.record(
            session,
            visit.actor,
            Action.SUBSCRIBERS_EXPORT,
            "subscribers.csv",
            now=clock.now(),
            detail={"rows": rows},
        )
        return out.getvalue()

    text = await ctx.db(run)
    stamp = clock.now().strftime("%Y%m%d-%H%M")
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="subscribers-{stamp}.csv"'},
    )


@guard(Permission.SUBSCRIBERS_MANAGE)
async def unsubscribe(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    email = visit.field("email")

    def run(session: Session) -> str:
        row = people.unsubscribe(session, email)
        audit.record(
            session,
            visit.actor,
            Action.SUBSCRIBER_UNSUBSCRIBE,
            row.email,
            now=clock.now(),
            detail={"status": row.status},
        )
        return row.email

    try:
        address = await ctx.db(run)
    except BriefmailError as exc:
        return refused(request, visit, exc, "/console/subscribers")
    return RedirectResponse(
        f"/console/subscribers?q={quote(address, safe='')}&done=unsubscribed", 303
    )


@guard(Permission.SUBSCRIBERS_MANAGE)
async def suppress(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    email = visit.field("email")
    reason = visit.field("reason") or f"manual (console, {visit.email})"

    def run(session: Session) -> str:
        result = suppression.suppress(session, email, reason)
        row = result.suppression
        audit.record(
            session,
            visit.actor,
            Action.SUBSCRIBER_SUPPRESS,
            row.email,
            now=clock.now(),
            detail={"reason": row.reason, "created": result.created},
        )
        return row.email

    try:
        address = await ctx.db(run)
    except BriefmailError as exc:
        return refused(request, visit, exc, "/console/subscribers")
    return RedirectResponse(
        f"/console/subscribers?q={quote(address, safe='')}&done=suppressed", 303
    )
