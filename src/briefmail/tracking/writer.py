"""The click writer: a child process that stores batches.

Storing a batch is Python work (classification, the burst memory, building rows, a
Redis pipeline) that holds the interpreter lock; in a thread of the web process it
cut the redirect rate by a third and stalled redirects (measured in bench/redirect.py).
A child process has its own interpreter: the web process only pickles a batch to it
and waits, lock released, for "stored" or an error. Without Redis the child stores
batches in the database; with Redis it XADDs them to the click stream and runs the
stream drainer (`clickstream.StreamDrainer`) beside.

The recorder still owns every click until the reply says stored, so a dead or failing
writer delays clicks and loses none: the batch is kept and retried, and a writer that
died is started again.

The child ignores SIGINT/SIGTERM (a Ctrl-C reaches the whole process group): the web
process decides when it stops, after the last flush. It exits on its own when the
web process goes away (end of its pipe).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

import redis

from briefmail.db.session import session_factory
from briefmail.tracking.clicks import ClickStore, RawClick
from briefmail.tracking.clickstream import StreamDrainer, add_to_stream

log = logging.getLogger(__name__)


class WriterProcessSink:
    """A `ClickSink` that stores batches in a child process."""

    def __init__(self, database_url: str, *, redis_url: str = "", window_seconds: int) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.window_seconds = window_seconds
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._proc: BaseProcess | None = None

    async def write(self, clicks: Sequence[RawClick]) -> None:
        await asyncio.to_thread(self._roundtrip, list(clicks))

    def _roundtrip(self, clicks: list[RawClick]) -> None:
        with self._lock:
            conn = self._running()
            try:
                conn.send(clicks)
                reply = conn.recv()
            except (EOFError, OSError) as exc:
                self._discard()
                raise ConnectionError(f"click writer stopped: {exc!r}") from None
        if reply is not None:
            raise RuntimeError(str(reply))

    def _running(self) -> Connection:
        if self._conn is not None and self._proc is not None and self._proc.is_alive():
            return self._conn
        self._discard()
        context = multiprocessing.get_context("spawn")  # never fork a threaded event loop
        parent, child = context.Pipe()
        proc = context.Process(
            target=_serve,
            args=(child, self.database_url, self.redis_url, self.window_seconds),
            name="briefmail-click-writer",
            daemon=True,
        )
        proc.start()
        child.close()
        self._conn, self._proc = parent, proc
        return parent

    def _discard(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
        if self._conn is not None:
            self._conn.close()
        self._conn = self._proc = None

    def close(self, timeout: float = 40.0) -> None:
        """Stop the writer after its current batch (call after the last flush)."""
        with self._lock:
            if self._conn is not None and self._proc is not None:
                with contextlib.suppress(OSError):
                    self._conn.send(None)
                self._proc.join(timeout)
            self._discard()


def _serve(conn: Connection, database_url: str, redis_url: str, window_seconds: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Redirects are what a person waits for; storing a click can wait a moment.
    with contextlib.suppress(OSError):
        os.nice(10)
    sessions = session_factory(database_url)
    store: Callable[[list[RawClick]], None]
    drainer: StreamDrainer | None = None
    stop = threading.Event()
    if redis_url:
        client = redis.Redis.from_url(redis_url)
        drainer = StreamDrainer(
            redis.Redis.from_url(redis_url), sessions, window_seconds=window_seconds
        )
        threading.Thread(target=drainer.run, args=(stop,), name="drain", daemon=True).start()

        def store(batch: list[RawClick]) -> None:
            add_to_stream(client, batch)

    else:
        clicks = ClickStore(window_seconds=window_seconds)

        def store(batch: list[RawClick]) -> None:
            with sessions.begin() as session:
                clicks.store(session, batch)

    while True:
        try:
            batch = conn.recv()
        except (EOFError, OSError):
            break  # the web process is gone
        if batch is None:
            break
        try:
            store(batch)
        except Exception as exc:  # reported to the recorder, which keeps the batch
            conn.send(f"{type(exc).__name__}: {exc}"[:300])
        else:
            conn.send(None)
    stop.set()
    if drainer is not None:
        drainer.final_drain()
