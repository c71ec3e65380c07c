"""The live preview page: desktop and phone frames, the text part, the warnings.

The brief file is watched (its folder, since editors often save by replacing the
file); every save re-renders it and bumps a version number. Open pages listen on
`/events` (server-sent events) and reload when the version changes. A save that
breaks the brief shows the FILE:LINE errors instead of the email until fixed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route
from watchfiles import awatch

from briefmail.briefs.errors import BriefValidationError
from briefmail.preview.build import Preview, PreviewOptions, build_preview
from briefmail.preview.warnings import GMAIL_CLIP_BYTES

HEARTBEAT_SECONDS = 15.0
_PAGE = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent), autoescape=True
).get_template("page.html")
_EMAIL_CSP = (
    "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
)


def size_label(size: int) -> str:
    share = 100 * size / GMAIL_CLIP_BYTES
    return f"{size / 1024:.1f} KB ({share:.0f}% of Gmail's {GMAIL_CLIP_BYTES // 1024} KB clip)"


@dataclass
class PreviewState:
    """The latest rendering of the watched file (or its errors) and a version counter."""

    path: Path
    options: PreviewOptions
    version: int = 0
    preview: Preview | None = None
    error: str | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def reload(self) -> None:
        try:
            self.preview = build_preview(self.path, self.options)
            self.error = None
        except BriefValidationError as exc:
            self.error = str(exc)
        self.version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_for_change(self, seen: int, timeout: float) -> int:
        if self.version == seen:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
        return self.version


async def watch(state: PreviewState, stop: asyncio.Event) -> None:
    target = state.path.resolve()

    def is_target(_change: object, changed_path: str) -> bool:
        return Path(changed_path).resolve() == target

    async for _ in awatch(target.parent, watch_filter=is_target, stop_event=stop, debounce=200):
        state.reload()


def create_app(state: PreviewState) -> Starlette:
    async def page(_request: Request) -> Response:
        preview = state.preview if state.error is None else None
        sizes = (
            {"html": size_label(preview.html_bytes), "text": size_label(preview.text_bytes)}
            if preview
            else {}
        )
        title = preview.rendered.subject if preview else state.path.name
        body = _PAGE.render(
            title=title,
            path=str(state.path),
            version=state.version,
            error=state.error,
            preview=preview,
            sizes=sizes,
        )
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})

    async def email_html(_request: Request) -> Response:
        if state.preview is None or state.error is not None:
            return PlainTextResponse(state.error or "no preview", status_code=409)
        return HTMLResponse(
            state.preview.html,
            headers={"Cache-Control": "no-store", "Content-Security-Policy": _EMAIL_CSP},
        )

    async def email_text(_request: Request) -> Response:
        if state.preview is None or state.error is not None:
            return PlainTextResponse(state.error or "no preview", status_code=409)
        return PlainTextResponse(state.preview.text, headers={"Cache-Control": "no-store"})

    async def version(_request: Request) -> Response:
        return JSONResponse({"version": state.version, "error": state.error})

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[str]:
            seen = state.version
            yield f"retry: 1000\ndata: {seen}\n\n"
            while not await request.is_disconnected():
                current = await state.wait_for_change(seen, HEARTBEAT_SECONDS)
                if current != seen:
                    seen = current
                    yield f"data: {seen}\n\n"
                else:
                    yield ": heartbeat\n\n"

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch(state, stop))
        try:
            yield
        finally:
            stop.set()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    return Starlette(
        routes=[
            Route("/", page),
            Route("/email.html", email_html),
            Route("/email.txt", email_text),
            Route("/version", version),
            Route("/events", events),
        ],
        lifespan=lifespan,
    )


def serve(
    path: Path,
    options: PreviewOptions,
    *,
    port: int,
    host: str = "127.0.0.1",
    initial: Preview | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run the preview server until interrupted; `on_ready(url)` once it accepts requests."""
    import uvicorn

    state = PreviewState(path=path, options=options)
    if initial is None:
        state.reload()
    else:
        state.preview, state.version = initial, 1
    config = uvicorn.Config(
        create_app(state), host=host, port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    if on_ready is not None:
        url = f"http://{host}:{port}/"
        callback = on_ready

        def announce() -> None:
            while not server.started and not server.should_exit:
                time.sleep(0.05)
            if server.started:
                callback(url)

        threading.Thread(target=announce, name="preview-ready", daemon=True).start()
    server.run()
