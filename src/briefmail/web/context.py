"""Everything a request handler needs, built once per app.

Handlers reach it as `context(request)`; tests build apps with their own settings.
The lifespan starts the click recorder (and, with Redis, the stream drainer) and, on
a graceful shutdown, flushes every buffered click before the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, TypeVar

import redis
import redis.asyncio
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from briefmail.config import Settings
from briefmail.db.models import SendLink
from briefmail.db.session import session_factory
from briefmail.tracking.clicks import ClickStore
from briefmail.tracking.clickstream import (
    RedisStreamSink,
    drain_stream,
    ensure_group,
    hold_drain_lease,
    release_drain_lease,
)
from briefmail.tracking.events import PROVIDERS
from briefmail.tracking.recorder import ClickRecorder, ClickSink
from briefmail.tracking.writer import WriterProcessSink
from briefmail.web.confirmation import Mailer, backend_mailer
from briefmail.web.linkcache import SendLinkCache
from briefmail.web.pages import Pages
from briefmail.web.throttle import Throttle

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
    signups: Throttle
    mailer: Mailer
    redis_url: str = ""
    _drain_stop: asyncio.Event | None = field(default=None, repr=False)
    _drain_task: asyncio.Task[None] | None = field(default=None, repr=False)
    _stream_store: ClickStore | None = field(default=None, repr=False)

    @classmethod
    def build(cls, settings: Settings) -> WebContext:
        sessions = session_factory(settings.database_url)
        redis_url = settings.click_redis_url
        sink: ClickSink
        if redis_url:
            sink = RedisStreamSink(redis.asyncio.Redis.from_url(redis_url))
        else:
            sink = WriterProcessSink(
                settings.database_url, window_seconds=settings.scanner_window_seconds
            )
        key_text = settings.sendgrid_webhook_public_key
        return cls(
            settings=settings,
            keys=settings.signing_keys(),
            sessions=sessions,
            links=SendLinkCache(lambda send_id: _load_links(sessions, send_id)),
            recorder=ClickRecorder(sink),
            pages=Pages(
                lang=settings.lang,
                from_address=settings.from_address,
                postal_address=settings.postal_address,
            ),
            webhook_keys={
                "sendgrid": PROVIDERS["sendgrid"].load_key(key_text) if key_text else None
            },
            signups=Throttle(limit=10, per_seconds=600),
            mailer=backend_mailer(settings),
            redis_url=redis_url,
        )

    async def db(
        self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kw: P.kwargs
    ) -> T:
        """Run `fn(session, ...)` in one committed transaction, in a worker thread."""

        def work() -> T:
            with self.sessions.begin() as session:
                return fn(session, *args, **kw)

        return await run_in_threadpool(work)

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        # Everything loaded so far lives as long as the process: keep it out of the
        # cyclic collector's full passes, which otherwise stall redirects for tens of
        # milliseconds (measured in bench/redirect.py: p99 36-265 ms -> 8-9 ms).
        gc.collect()
        gc.freeze()
        await self.recorder.start()
        if self.redis_url:
            self._drain_stop = asyncio.Event()
            self._drain_task = asyncio.create_task(self._drain_loop(), name="click-drain")
        try:
            yield
        finally:
            await self.recorder.stop()
            if self._drain_task is not None and self._drain_stop is not None:
                self._drain_stop.set()
                await self._drain_task
                await self._final_drain()
            sink = self.recorder.sink
            if isinstance(sink, RedisStreamSink):
                await sink.client.aclose()  # type: ignore[attr-defined,unused-ignore]
            elif isinstance(sink, WriterProcessSink):
                await asyncio.to_thread(sink.close)  # type: ignore[attr-defined,unused-ignore]

    @property
    def _consumer(self) -> str:
        return f"{socket.gethostname()}-{os.getpid()}"

    def _drain_once(self, client: redis.Redis[bytes], block_ms: int | None) -> int:
        """One pass if this process holds the drain lease; -1 if another process does."""
        if not hold_drain_lease(client, self._consumer):
            return -1
        if self._stream_store is None:
            self._stream_store = ClickStore(window_seconds=self.settings.scanner_window_seconds)
        return drain_stream(
            client,
            self.sessions,
            store=self._stream_store,
            consumer=self._consumer,
            block_ms=block_ms,
        )

    async def _drain_loop(self) -> None:
        """Move clicks from the Redis stream into the database until told to stop."""
        assert self._drain_stop is not None
        client = redis.Redis.from_url(self.redis_url)
        delay = 0.0
        try:
            await asyncio.to_thread(ensure_group, client)
            while not self._drain_stop.is_set():
                try:
                    drained = await asyncio.to_thread(self._drain_once, client, 200)
                    delay = 1.0 if drained < 0 else 0.0  # standby: another process drains
                except Exception as exc:  # database or Redis down: keep entries, retry
                    log.warning("click stream: drain failed: %s", exc)
                    delay = min(max(delay * 2, 0.2), 5.0)
                if delay:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._drain_stop.wait(), delay)
        except Exception as exc:
            log.error("click stream: drainer stopped: %s", exc)
        finally:
            client.close()

    async def _final_drain(self, timeout: float = 30.0) -> None:
        """On shutdown, store what is on the stream (if this process is the drainer)."""
        client = redis.Redis.from_url(self.redis_url)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while loop.time() < deadline:
                try:
                    if await asyncio.to_thread(self._drain_once, client, None) <= 0:
                        break
                except Exception as exc:
                    log.warning("click stream: final drain failed: %s", exc)
                    await asyncio.sleep(0.5)
            await asyncio.to_thread(release_drain_lease, client, self._consumer)
        finally:
            client.close()


def _load_links(sessions: sessionmaker[Session], send_id: int) -> dict[int, tuple[str, str]]:
    with sessions() as session:
        rows = session.execute(
            select(SendLink.link_id, SendLink.url, SendLink.kind).where(SendLink.send_id == send_id)
        )
        return {link_id: (url, kind) for link_id, url, kind in rows}


def context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.ctx
    return ctx
