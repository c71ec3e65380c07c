"""The click writer: a child process that stores batches.

Storing a batch is Python work (classification, the burst memory, building rows, a
Redis pipeline) that holds the interpreter lock; in a thread of the web process it
cost the redirect much of its rate and stalled redirects (BENCHMARKS.md). A child
process has its own interpreter: the web process only serialises a batch to it and
awaits, on its event loop, "stored" or an error. Without Redis the child stores
batches in the database; with Redis it XADDs them to the click stream and runs the
stream drainer (`clickstream.StreamDrainer`) beside.

The two talk over a socket pair, one JSON document per line: a batch is a list of
click rows (`RawClick.from_row`), `null` asks the child to stop; the child answers
each with `null` (stored) or the error as a string, and says "ready" once when it has
started. The web process's side is an asyncio stream, so it never blocks its loop.

The recorder still owns every click until the reply says stored, so a dead or failing
writer delays clicks and loses none: the batch is kept and retried, and a writer that
died is started again. The child ignores SIGINT/SIGTERM (a Ctrl-C reaches the whole
process group): the web process decides when it stops, after the last flush. It exits
on its own when the web process goes away (end of its socket).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from io import BufferedIOBase
from multiprocessing.process import BaseProcess

import orjson
import redis

from briefmail.db.session import session_factory
from briefmail.tracking.clicks import RawClick
from briefmail.tracking.clickstore import ClickStore
from briefmail.tracking.clickstream import StreamDrainer, add_to_stream

_READY = "ready"
_START_TIMEOUT = 60.0  # seconds for the child's imports on a slow, busy machine


class WriterProcessSink:
    """A `ClickSink` that stores batches in a child process; one caller at a time (the
    recorder's flush loop)."""

    def __init__(self, database_url: str, *, redis_url: str = "", window_seconds: int) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.window_seconds = window_seconds
        self.process: BaseProcess | None = None
        self._stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._busy = False

    async def start(self) -> None:
        """Start the writer process now rather than at the first batch; returns when it
        is ready (or has failed: then the first batch starts it again)."""
        with self._turn(), contextlib.suppress(ConnectionError):
            await self._running()

    async def write(self, clicks: Sequence[RawClick]) -> None:
        line = orjson.dumps(clicks, default=tuple) + b"\n"  # each RawClick as a plain row
        with self._turn():
            reader, writer = await self._running()
            try:
                writer.write(line)
                await writer.drain()
                reply = await _receive(reader)
            except (EOFError, OSError) as exc:
                self._discard()
                raise ConnectionError(f"click writer stopped: {exc!r}") from None
            except asyncio.CancelledError:
                self._discard()  # a half-sent batch or an unread reply: start afresh
                raise
        if reply is not None:
            raise RuntimeError(str(reply))

    async def close(self, timeout: float = 40.0) -> None:
        """Stop the writer after its current batch (call after the last flush)."""
        with self._turn():
            proc, stream = self.process, self._stream
            if proc is not None and stream is not None and proc.is_alive():
                with contextlib.suppress(OSError):
                    stream[1].write(b"null\n")
                    await stream[1].drain()
                await asyncio.to_thread(proc.join, timeout)
            self._discard()

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        if self._busy:
            raise RuntimeError("the click writer serves one caller at a time")
        self._busy = True
        try:
            yield
        finally:
            self._busy = False

    async def _running(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._stream is not None and self.process is not None and self.process.is_alive():
            return self._stream
        self._discard()
        ours, theirs = socket.socketpair()
        context = multiprocessing.get_context("spawn")  # never fork a threaded event loop
        proc = context.Process(
            target=_serve,
            args=(theirs, self.database_url, self.redis_url, self.window_seconds),
            name="briefmail-click-writer",
            daemon=True,
        )
        try:
            await asyncio.to_thread(proc.start)
        finally:
            theirs.close()
        self.process = proc
        self._stream = await asyncio.open_unix_connection(sock=ours)
        # The child says "ready" once its imports and set-up are done, so a batch never
        # waits on them and a writer that cannot start is known at once.
        try:
            ready = await asyncio.wait_for(_receive(self._stream[0]), _START_TIMEOUT)
            if ready != _READY:
                raise EOFError(f"unexpected first message {ready!r}")
        except (EOFError, OSError, TimeoutError) as exc:
            self._discard()
            raise ConnectionError(f"click writer did not start: {exc!r}") from None
        return self._stream

    def _discard(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()
        if self._stream is not None:
            self._stream[1].close()
        self._stream = self.process = None


async def _receive(reader: asyncio.StreamReader) -> object:
    line = await reader.readline()
    if not line.endswith(b"\n"):
        raise EOFError("the click writer closed its end")
    return orjson.loads(line)


def _serve(sock: socket.socket, database_url: str, redis_url: str, window_seconds: int) -> None:
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
            clicks.store(sessions, batch)

    # Everything imported so far lives as long as the process: keep it out of the
    # collector's passes, and collect young objects less often (a batch makes tens of
    # thousands of short-lived tuples, none of them in a cycle).
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    with sock, contextlib.suppress(OSError):  # OSError: the web process is gone
        _answer_batches(sock, store)
    stop.set()
    if drainer is not None:
        drainer.final_drain()


def _reply(stream: BufferedIOBase, message: object) -> None:
    stream.write(orjson.dumps(message) + b"\n")
    stream.flush()


def _answer_batches(sock: socket.socket, store: Callable[[list[RawClick]], None]) -> None:
    """Say ready, then store each batch that arrives and answer it, until told to stop
    or the web process closes its end."""
    with sock.makefile("rwb") as stream:
        _reply(stream, _READY)
        for line in stream:
            rows = orjson.loads(line)
            if rows is None:
                return
            try:
                store(list(map(RawClick._make, rows)))  # our own rows: no checks
            except Exception as exc:  # reported to the recorder, which keeps the batch
                _reply(stream, f"{type(exc).__name__}: {exc}"[:300])
            else:
                _reply(stream, None)
