"""The sending alarms `/healthz` counts, read off the request path.

`/healthz` is a liveness probe, polled often, on connections that may carry redirects
behind it, so it must not wait for the database: counts are refreshed in the
background at most every `REFRESH_SECONDS`, when asked, and the probe answers with
the last ones (None before the first read and while the database is down).
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.exc import SQLAlchemyError

from briefmail import clock
from briefmail.sending import alarms
from briefmail.web.context import WebContext

REFRESH_SECONDS = 5.0


class AlarmCounts:
    def __init__(self, ctx: WebContext) -> None:
        self._ctx = ctx
        self._counts: dict[str, int] | None = None
        self._read_at = float("-inf")
        self._task: asyncio.Task[None] | None = None

    def latest(self) -> dict[str, int] | None:
        """The last counts read; starts a fresh read when they are older than the refresh."""
        idle = self._task is None or self._task.done()
        if idle and time.monotonic() - self._read_at >= REFRESH_SECONDS:
            self._task = asyncio.get_running_loop().create_task(self._read())
        return self._counts

    async def _read(self) -> None:
        stall = self._ctx.settings.send_stall_seconds
        try:
            self._counts = await self._ctx.db(alarms.counts, now=clock.now(), stall_seconds=stall)
        except SQLAlchemyError:
            self._counts = None
        self._read_at = time.monotonic()
