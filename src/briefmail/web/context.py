"""Everything a request handler needs, built once per app.

Handlers reach it as `context(request)`; tests build apps with their own settings.
The lifespan starts the click recorder and, on a graceful shutdown, flushes every
buffered click and then stops the click writer process (`tracking.writer`), which
with Redis drains the stream one last time.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from briefmail.config import Settings
from briefmail.db.models import SendLink
from briefmail.db.session import session_factory, transaction
from briefmail.tracking.providers import PROVIDERS
from briefmail.tracking.recorder import ClickRecorder
from briefmail.tracking.spool import ClickSpool
from briefmail.tracking.writer import WriterProcessSink
from briefmail.web.confirmation import Mailer, backend_mailer
from briefmail.web.linkcache import SendLinkCache
from briefmail.web.pages import Pages
from briefmail.web.throttle import SignupLimits

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class WebContext:
    settings: Settings
    keys: list[bytes]
    sessions: sessionmaker[Session]
    links: SendLinkCache
    recorder: ClickRecorder
    pages: Pages
    webhook_keys: Mapping[str, ec.EllipticCurvePublicKey | None]
    signups: SignupLimits
    mailer: Mailer
    # Start the click writer with the app, so the first clicks do not pay for its start
    # (its imports); tests that start many servers never click in most.
    start_writer_early: bool = True

    @classmethod
    def build(cls, settings: Settings, *, start_writer_early: bool = True) -> WebContext:
        sessions = session_factory(settings.database_url)
        sink = WriterProcessSink(
            settings.database_url,
            redis_url=settings.click_redis_url,
            window_seconds=settings.scanner_window_seconds,
        )
        key_text = settings.sendgrid_webhook_public_key
        return cls(
            settings=settings,
            keys=settings.signing_keys(),
            sessions=sessions,
            links=SendLinkCache(lambda send_id: _load_links(sessions, send_id)),
            recorder=ClickRecorder(sink, spool=ClickSpool(settings.click_spool_dir)),
            pages=Pages(
                lang=settings.lang,
                from_address=settings.from_address,
                postal_address=settings.postal_address,
            ),
            webhook_keys={
                "sendgrid": PROVIDERS["sendgrid"].load_key(key_text) if key_text else None
            },
            signups=SignupLimits(
                per_client=settings.signup_limit_per_client,
                overall=settings.signup_limit_global,
                redis_url=settings.click_redis_url,
            ),
            mailer=backend_mailer(settings),
            start_writer_early=start_writer_early,
        )

    async def db(
        self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kw: P.kwargs
    ) -> T:
        """Run `fn(session, ...)` in one committed transaction, in a worker thread."""

        def work() -> T:
            with transaction(self.sessions) as session:
                return fn(session, *args, **kw)

        return await run_in_threadpool(work)

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        # Everything loaded so far lives as long as the process: keep it out of the
        # cyclic collector's full passes, which otherwise stall redirects (BENCHMARKS.md,
        # click redirect).
        gc.collect()
        gc.freeze()
        sink = self.recorder.sink
        if self.start_writer_early and isinstance(sink, WriterProcessSink):
            await sink.start()
        await self.recorder.start()
        try:
            yield
        finally:
            # every buffered click, stored or spooled, before the writer stops
            await self.recorder.stop(timeout=self.settings.click_stop_seconds)
            sink = self.recorder.sink
            if isinstance(sink, WriterProcessSink):
                await sink.close()
            self.signups.close()


def _load_links(sessions: sessionmaker[Session], send_id: int) -> dict[int, str]:
    with sessions() as session:
        rows = session.execute(
            select(SendLink.link_id, SendLink.url).where(SendLink.send_id == send_id)
        )
        return {link_id: url for link_id, url in rows}


def context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.ctx
    return ctx
