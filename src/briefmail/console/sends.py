"""`/console/sends`: every send, one send's progress, cancelling and settling batches.

The progress fragment is polled by htmx every two seconds while the send runs; once
it has finished the fragment tells htmx to reload the page (`HX-Refresh`), which
then shows the final batches and stops polling.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from briefmail import clock
from briefmail.accounts import audit
from briefmail.accounts.audit import Action
from briefmail.accounts.roles import Permission
from briefmail.console.auth import Visit, back, guard, refused
from briefmail.console.batches import BatchRow, batch_rows
from briefmail.console.context import console
from briefmail.db.models import Batch
from briefmail.errors import BriefmailError, NotFoundError
from briefmail.sending import service
from briefmail.sending.service import SendView


@guard(Permission.SENDS_READ)
async def list_page(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    views = await ctx.db(
        service.list_sends, limit=100, stall_seconds=ctx.settings.send_stall_seconds
    )
    return ctx.renderer.page(request, visit, "sends.html", title="Sends", views=views)


def _load(session: Session, send_id: int, stall_seconds: float) -> tuple[SendView, list[BatchRow]]:
    view = service.get_send(session, send_id, stall_seconds=stall_seconds)
    return view, batch_rows(session, send_id)


@guard(Permission.SENDS_READ)
async def send_page(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    send_id = request.path_params["send_id"]
    view, batches = await ctx.db(_load, send_id, ctx.settings.send_stall_seconds)
    return ctx.renderer.page(
        request, visit, "send.html", title=f"Send {send_id}", view=view, batches=batches
    )


@guard(Permission.SENDS_READ, poll=True)
async def progress(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    view = await ctx.db(service.get_send, request.path_params["send_id"])
    response = ctx.renderer.page(request, visit, "_progress.html", title="", view=view)
    if view.finished and request.headers.get("hx-request") == "true":
        response.headers["hx-refresh"] = "true"
    return response


@guard(Permission.SENDS_CANCEL)
async def cancel(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    send_id = request.path_params["send_id"]

    def run(session: Session) -> None:
        now = clock.now()
        view = service.cancel_send(session, send_id, now=now)
        audit.record(
            session,
            visit.actor,
            Action.SEND_CANCEL,
            f"send {send_id} of {view.brief}",
            now=now,
            detail={"status": view.status},
        )

    try:
        await ctx.db(run)
    except BriefmailError as exc:
        return refused(request, visit, exc, f"/console/sends/{send_id}")
    return back(f"/console/sends/{send_id}", "cancelled")


@guard(Permission.SENDS_RESOLVE)
async def resolve(request: Request, visit: Visit) -> Response:
    """Mark accepted (it went out) or Resend (it did not), as `sends resolve` does."""
    ctx = console(request)
    send_id, batch_id = request.path_params["send_id"], request.path_params["batch_id"]
    verdict = visit.field("verdict")
    if verdict not in ("accepted", "resend"):
        return ctx.renderer.page(
            request,
            visit,
            "error.html",
            400,
            title="Not done",
            lines=["choose Mark accepted or Resend"],
            back_to=f"/console/sends/{send_id}",
        )
    grace = ctx.settings.send_resend_grace_seconds

    def run(session: Session) -> None:
        now = clock.now()
        if session.scalar(select(Batch.send_id).where(Batch.id == batch_id)) != send_id:
            raise NotFoundError(f"no batch {batch_id} in send {send_id}")
        batch = service.resolve_batch(
            session,
            batch_id,
            accepted=verdict == "accepted",
            now=now,
            by=visit.email,
            grace_seconds=grace,
        )
        audit.record(
            session,
            visit.actor,
            Action.BATCH_RESOLVE,
            f"batch {batch.id} of send {batch.send_id}",
            now=now,
            detail={"verdict": verdict, "status": batch.status},
        )

    try:
        await ctx.db(run)
    except BriefmailError as exc:
        return refused(request, visit, exc, f"/console/sends/{send_id}")
    return back(f"/console/sends/{send_id}", verdict)
