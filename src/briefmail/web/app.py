"""The ASGI app factory.

`create_app()` reads the settings once and wires the routes; `briefmail web` serves it
(see `serve`; `uvicorn --factory briefmail.web.app:create_app` works too). The click
redirect is not a route: `ClickRedirects` answers /c/ in front of the router (see
`redirect`); with `click_port` the app also runs the click listener (`clicklistener`)
for as long as it serves.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from briefmail.api.app import PREFIX, create_api
from briefmail.archive.routes import archive_routes
from briefmail.config import Settings, get_settings
from briefmail.console.app import console_app
from briefmail.web import preferences, subscribe, unsubscribe, webhooks
from briefmail.web.alarmcounts import AlarmCounts
from briefmail.web.clickport import ClickPort, listening
from briefmail.web.context import WebContext, context
from briefmail.web.forms import FORM_BODY_LIMIT
from briefmail.web.pages import Pages
from briefmail.web.redirect import ClickAnswers, ClickRedirects
from briefmail.web.security_headers import SecurityHeaders


def _click_health(request: Request) -> tuple[bool, dict[str, int] | None]:
    """Degraded while the last write of buffered clicks failed (the database is down)."""
    status = context(request).recorder.status()
    counts = {
        "buffered": status.buffered,
        "written": status.written,
        "dropped": status.dropped,
        "failures": status.failures,
    }
    return status.last_error is None, counts


# /healthz is public: each part reports whether it is healthy and counts, never text
# (an error message can name hosts, users or paths). A new part is a new entry.
def _alarm_health(request: Request) -> tuple[bool, dict[str, int] | None]:
    """Degraded while a sending alarm is raised (failed, stalled, a missed slot, a batch
    in doubt). None before the first read and while the database is down: the click
    part tells the second."""
    counts: dict[str, int] | None = request.app.state.alarm_counts.latest()
    return not (counts and any(counts.values())), counts


HEALTH: dict[str, Callable[[Request], tuple[bool, dict[str, int] | None]]] = {
    "clicks": _click_health,
    "alarms": _alarm_health,
}


async def healthz(request: Request) -> Response:
    """200 while the process serves redirects: `{"status": "ok"|"degraded", part: counts}`."""
    body: dict[str, object] = {"status": "ok"}
    for name, part in HEALTH.items():
        healthy, counts = part(request)
        body[name] = counts
        if not healthy:
            body["status"] = "degraded"
    return JSONResponse(body, headers={"cache-control": "no-store"})


def _error_pages(pages: Pages) -> dict[Any, Callable[[Request, Exception], Any]]:
    """The app's error pages, bound to its own `Pages`: an error raised in a mounted app
    (the API, the console) reaches these handlers after that app answered, with a scope
    whose `app` is the mounted one, so they must not look the context up there."""

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return pages.not_found()
        if exc.status_code == 405:
            return pages.method_not_allowed((exc.headers or {}).get("Allow", ""))
        if exc.status_code == 413:
            return pages.error(413, "Too large", "That request was too large.")
        return pages.error(exc.status_code, "Something went wrong", "Please try again.")

    async def server_error(_request: Request, _exc: Exception) -> Response:
        return pages.error(500, "Something went wrong", "Please try again in a few minutes.")

    return {HTTPException: http_error, 500: server_error}


def create_app(
    settings: Settings | None = None,
    *,
    start_writer_early: bool = True,
    click_port: ClickPort | None = None,
) -> Starlette:
    ctx = WebContext.build(settings or get_settings(), start_writer_early=start_writer_early)
    clicks = ClickAnswers(ctx)
    form = FORM_BODY_LIMIT
    routes = [
        Route("/u/{token}", unsubscribe.unsubscribe, methods=["GET", "POST"], max_body_size=form),
        Route(
            "/preferences/{token}",
            preferences.preferences,
            methods=["GET", "POST"],
            max_body_size=form,
        ),
        Route("/subscribe", subscribe.subscribe, methods=["GET", "POST"], max_body_size=form),
        Route("/confirm/{token}", subscribe.confirm, methods=["GET", "POST"], max_body_size=form),
        Route(
            "/webhooks/sendgrid",
            webhooks.sendgrid,
            methods=["POST"],
            max_body_size=webhooks.WEBHOOK_BODY_LIMIT,
        ),
        Route("/healthz", healthz, methods=["GET"]),
        Mount(PREFIX, app=create_api(ctx.settings)),
        *archive_routes(ctx.settings, ctx.sessions),
        Mount("/console", app=console_app(ctx.settings, ctx.sessions)),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(ClickRedirects, answers=clicks),  # /c/ never reaches the router
            Middleware(SecurityHeaders),  # every answer from here in, future pages too
        ],
        lifespan=ctx.lifespan if click_port is None else _with_listener(ctx, clicks, click_port),
        exception_handlers=_error_pages(ctx.pages),
    )
    app.state.ctx = ctx
    app.state.alarm_counts = AlarmCounts(ctx)  # /healthz: sending alarms by kind
    return app


def _with_listener(ctx: WebContext, clicks: ClickAnswers, where: ClickPort) -> Any:
    """The app's lifespan with the click listener inside it: it starts once the click
    recorder runs, and stops before the recorder's last flush."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with ctx.lifespan(app), listening(clicks, where) as listener:
            app.state.click_listener = listener
            yield

    return lifespan
