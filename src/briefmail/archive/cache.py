"""The web app's archive in memory, refreshed when a brief goes out.

Sends finish in worker processes, so the web process cannot be told in-process. It
asks the database instead, at most once per `refresh_seconds` and only while pages
are being asked for: how many real sends have gone out (`published.went_out_count`,
one indexed query). A changed count reads and renders the archive again in a worker
thread, while requests go on being answered from the reading before; a failed check
(the database away) is logged and the pages already read keep being served. With no
reading yet, requests are refused (`ArchiveUnavailable`) until the next try is due,
so a database outage is not asked about once per request.

Polling needs nothing beside the database the web app already uses, works the same
with and without a broker, and costs one small query a second per process; Redis
pub/sub would save that query at the price of a message the sending side must
remember to publish and a subscriber connection per process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from briefmail import clock
from briefmail.archive.pages import Pages
from briefmail.archive.published import went_out_count
from briefmail.archive.site import Site, read_site

log = logging.getLogger(__name__)


class ArchiveUnavailable(Exception):
    """No reading of the archive yet, and the database could not give one."""


class ArchiveCache:
    def __init__(
        self, sessions: sessionmaker[Session], pages: Pages, *, refresh_seconds: float
    ) -> None:
        self.sessions = sessions
        self.pages = pages
        self.refresh_seconds = refresh_seconds
        self._site: Site | None = None
        self._next_check = 0.0
        self._checking = False
        self._failing = False
        self._first = asyncio.Lock()

    async def site(self) -> Site:
        """The current reading; the first call reads it, later ones check it at most
        once per `refresh_seconds` (one request waits for the check, none for the others)."""
        site = self._site
        if site is None:
            async with self._first:
                if self._site is None:
                    if time.monotonic() < self._next_check:
                        raise ArchiveUnavailable
                    await self._run(self._read)
                if self._site is None:
                    raise ArchiveUnavailable
                return self._site
        if not self._checking and time.monotonic() >= self._next_check:
            self._checking = True
            try:
                await self._run(self._check, site)
            finally:
                self._checking = False
        return self._site or site

    async def _run(self, work: Callable[..., Site | None], *args: Site) -> None:
        """`work` in a worker thread; its Site (if any) becomes the current reading."""
        try:
            found = await run_in_threadpool(work, *args)
        except Exception:
            if not self._failing:  # once per outage, not once a second
                log.exception("archive: cannot read what went out; pages read before are kept")
            self._failing = True
        else:
            if self._failing:
                log.warning("archive: the database answers again")
            self._failing = False
            self._site = found or self._site
        finally:
            self._next_check = time.monotonic() + self.refresh_seconds

    def _check(self, site: Site) -> Site | None:
        with self.sessions() as session:
            if went_out_count(session) == site.version:
                return None
        return self._read(site)

    def _read(self, previous: Site | None = None) -> Site:
        with self.sessions() as session:
            return read_site(session, self.pages, now=clock.now(), previous=previous)
