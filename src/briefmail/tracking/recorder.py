"""The click buffer: the redirect appends, a background task writes batches.

A redirect must answer at once, whatever the database is doing; even one awaited
Redis write per click cost much of the redirect rate (BENCHMARKS.md). So the redirect
only appends a `RawClick` to an in-process buffer (`ClickRecorder.record`, no I/O),
and one background task flushes the buffer every `flush_interval`, or as soon as a
batch is full, into a sink: the click writer process (`writer.WriterProcessSink`,
which stores in the database or through the Redis stream).

A failed flush puts the batch back at the front and retries with back-off, so a
database that is briefly down delays clicks instead of losing them; `stop` (called by
the web app's lifespan on a graceful shutdown) flushes what is left, and what it still
cannot store when its time is up goes to the click spool (`spool.ClickSpool`), which
`start` takes back first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from briefmail.tracking.clicks import RawClick
from briefmail.tracking.spool import ClickSpool

log = logging.getLogger(__name__)


class ClickSink(Protocol):
    async def write(self, clicks: Sequence[RawClick]) -> None:
        """Persist `clicks` or raise; a raise means none may be assumed persisted."""


@dataclass(frozen=True, slots=True)
class RecorderStatus:
    buffered: int
    written: int
    dropped: int
    failures: int
    last_error: str | None


class ClickRecorder:
    """An in-process click buffer flushed to a sink by one background task.

    `record` is the only call on the request path: an append, no I/O. The buffer is
    bounded (`max_buffered`); when a long outage fills it, the oldest clicks are
    dropped and counted rather than letting the process run out of memory.
    """

    def __init__(
        self,
        sink: ClickSink,
        *,
        spool: ClickSpool | None = None,
        flush_interval: float = 0.25,
        batch_size: int = 10_000,
        max_buffered: int = 500_000,
        max_backoff: float = 5.0,
    ) -> None:
        self.sink = sink
        self.spool = spool
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.max_backoff = max_backoff
        self._buffer: deque[RawClick] = deque(maxlen=max_buffered)
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.written = 0
        self.dropped = 0
        self.failures = 0
        self.last_error: str | None = None

    def record(self, click: RawClick) -> None:
        buffer = self._buffer
        if len(buffer) == buffer.maxlen:
            self.dropped += 1
        buffer.append(click)
        if len(buffer) >= self.batch_size and self._wake is not None:
            self._wake.set()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def status(self) -> RecorderStatus:
        return RecorderStatus(
            self.buffered, self.written, self.dropped, self.failures, self.last_error
        )

    async def start(self) -> None:
        if self.spool is not None:
            self._take_back(await asyncio.to_thread(self.spool.take))
        self._wake = asyncio.Event()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="click-recorder")

    async def stop(self, *, timeout: float = 30.0) -> None:
        """Stop the loop and flush what is left, retrying until `timeout`; then spool
        what is still not stored."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        deadline = asyncio.get_running_loop().time() + timeout
        delay = 0.05
        while self._buffer:
            if await self.flush_once():
                delay = 0.05
                continue
            if asyncio.get_running_loop().time() + delay > deadline:
                self._spool_the_rest()
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)

    def _take_back(self, spooled: list[RawClick]) -> None:
        """Spooled clicks go in front of any new one: they are older. The buffer's
        bound holds for them too (several stops during one long outage)."""
        if not spooled:
            return
        room = (self._buffer.maxlen or len(spooled)) - len(self._buffer)
        if len(spooled) > room:
            self.dropped += len(spooled) - room
            log.error("click recorder: %d spooled clicks dropped: buffer full", len(spooled) - room)
            spooled = spooled[: max(room, 0)]
        self._buffer.extendleft(reversed(spooled))
        log.warning("click recorder: %d clicks back from the spool", len(spooled))

    def _spool_the_rest(self) -> None:
        clicks = list(self._buffer)
        if self.spool is None:
            log.error("click recorder: %d clicks not stored at shutdown", len(clicks))
            return
        try:
            path = self.spool.save(clicks)
        except OSError as exc:
            log.error(
                "click recorder: %d clicks neither stored nor spooled at shutdown: %s",
                len(clicks),
                exc,
            )
            return
        self._buffer.clear()
        log.warning(
            "click recorder: the store is down; %d clicks kept in %s until the next start",
            len(clicks),
            path,
        )

    async def flush_once(self) -> bool:
        """Write one batch; on failure put it back at the front. True if it was written."""
        batch: list[RawClick] = []
        buffer = self._buffer
        while buffer and len(batch) < self.batch_size:
            batch.append(buffer.popleft())
        if not batch:
            return True
        try:
            await self.sink.write(batch)
        except Exception as exc:  # any failure: keep the clicks and retry later
            buffer.extendleft(reversed(batch))
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("click recorder: flush of %d failed: %s", len(batch), self.last_error)
            return False
        self.written += len(batch)
        self.last_error = None
        return True

    async def _run(self) -> None:
        assert self._wake is not None
        backoff = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.flush_interval + backoff)
            self._wake.clear()
            if self._stopping:
                return
            # Full batches go at once; a remainder waits for the next tick. Flushing
            # each remainder straight away made batches of a few hundred clicks under
            # load, and the per-batch cost (a transaction, a few round trips) then
            # outweighed the per-click one (bench/redirect.py).
            while self._buffer and not self._stopping:
                if not await self.flush_once():
                    backoff = min(max(backoff * 2, 0.1), self.max_backoff)
                    break
                backoff = 0.0
                if len(self._buffer) < self.batch_size:
                    break
