"""The console as an ASGI app, mounted by the web app at /console.

A sub-application, so its error pages, its security headers and its body limits are
the console's own and nothing of it leaks into the public pages.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from briefmail.config import Settings
from briefmail.console import auditlog, briefs, dashboard, login, reports, schedule, sends
from briefmail.console import subscribers as people
from briefmail.console.auth import current_visit, refused
from briefmail.console.context import ConsoleContext, console
from briefmail.console.headers import NoStore
from briefmail.errors import BriefmailError, InvalidInputError, NotFoundError, StateError

STATIC = Path(__file__).with_name("static")
# A brief file or a CSV of subscribers; every other console form is tiny.
UPLOAD_LIMIT = 8 * 1024 * 1024
FORM_LIMIT = 64 * 1024


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    ctx = console(request)
    visit = await current_visit(request)
    titles = {404: "Not found", 405: "Not allowed here", 413: "Too large"}
    title = titles.get(exc.status_code, "Something went wrong")
    lines = {
        404: "There is nothing at this address.",
        413: "That upload is too large.",
    }.get(exc.status_code, "Please try again.")
    return ctx.renderer.page(
        request,
        visit,
        "error.html",
        exc.status_code,
        title=title,
        lines=[lines],
        back_to="/console/",
    )


async def _refused(request: Request, exc: Exception) -> Response:
    """A page asked for something a service says is not there (a brief, a send) or
    cannot be (an id past what the database holds): its words, not a server error.
    Only signed-in people get this far (`guard` runs first)."""
    assert isinstance(exc, BriefmailError)
    return refused(request, await current_visit(request), exc, "/console/")


async def _server_error(request: Request, _exc: Exception) -> Response:
    """No database here: it may be what failed."""
    return console(request).renderer.page(
        request,
        None,
        "error.html",
        500,
        title="Something went wrong",
        lines=["Please try again in a few minutes."],
        back_to="/console/",
    )


def _post(path: str, endpoint: object, limit: int = FORM_LIMIT) -> Route:
    return Route(path, endpoint, methods=["POST"], max_body_size=limit)  # type: ignore[arg-type]


def console_app(settings: Settings, sessions: sessionmaker[Session]) -> Starlette:
    routes = [
        Route("/login", login.login, methods=["GET", "POST"], max_body_size=FORM_LIMIT),
        _post("/logout", login.logout),
        Route("/", dashboard.dashboard),
        Route("/briefs", briefs.list_page),
        _post("/briefs", briefs.upload, UPLOAD_LIMIT),
        Route("/briefs/{slug}", briefs.brief_page),
        Route("/briefs/{slug}/preview.html", briefs.preview_html),
        _post("/briefs/{slug}/approve", briefs.approve),
        _post("/briefs/{slug}/proof", briefs.proof),
        _post("/briefs/{slug}/send", briefs.send),
        Route("/sends", sends.list_page),
        Route("/sends/{send_id:int}", sends.send_page),
        Route("/sends/{send_id:int}/progress", sends.progress),
        _post("/sends/{send_id:int}/cancel", sends.cancel),
        _post("/sends/{send_id:int}/batches/{batch_id:int}", sends.resolve),
        Route("/schedule", schedule.schedule_page),
        _post("/schedule", schedule.set_slot),
        Route("/subscribers", people.list_page),
        _post("/subscribers", people.add),
        _post("/subscribers/import", people.import_csv, UPLOAD_LIMIT),
        Route("/subscribers/export.csv", people.export),
        _post("/subscribers/unsubscribe", people.unsubscribe),
        _post("/subscribers/suppress", people.suppress),
        Route("/reports", reports.trends),
        Route("/reports/{slug}", reports.report_page),
        Route("/audit", auditlog.audit_page),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(NoStore)],
        exception_handlers={
            HTTPException: _http_error,
            NotFoundError: _refused,
            InvalidInputError: _refused,
            StateError: _refused,
            500: _server_error,
        },
    )
    app.state.console = ConsoleContext.build(settings, sessions)
    return app
