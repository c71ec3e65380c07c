"""The click writer: a child process that stores batches.

Storing a batch is Python work (classification, the burst memory, building rows, a
Redis pipeline) that holds the interpreter lock; in a thread of the web process it
cut the redirect rate by a third and stalled redirects (measured in bench/redirect.py).
A child process has its own interpreter: the web process only pickles a batch to it
and awaits, on its event loop, "stored" or an error. Without Redis the child stores
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
import gc
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

import redis

from briefmail.db.session import session_factory
from briefmail.tracking.clicks import ClickStore, RawClick
from briefmail.tracking.clickstream import StreamDrainer, add_to_stream

log = logging.getLogger(__name__)

_READY = "ready"
_START_TIMEOUT = 60.0  # seconds for the child's imports on a slow, busy machine


class WriterProcessSink:
    """A `ClickSink` that stores batches in a child process.

    The web process's side runs on its event loop, with no thread: a batch is pickled
    as plain tuples (a tenth of the cost of pickling the named tuples) and written to
    a non-blocking socket in the framing of `multiprocessing.connection` (a 4-byte
    length, then the pickle), which the child reads with `Connection.recv`. Measured
    with bench/redirect.py, the thread this replaces and its interpreter-lock
    hand-offs cost the redirect about an eighth of its rate. One caller at a time: the
    recorder's flush loop.
    """

    def __init__(self, database_url: str, *, redis_url: str = "", window_seconds: int) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.window_seconds = window_seconds
        self._sock: socket.socket | None = None
        self._proc: BaseProcess | None = None
        self._busy = False

    async def start(self) -> None:
        """Start the writer process now rather than at the first batch; returns when it
        is ready (or has failed: then the first batch starts it again)."""
        with self._turn(), contextlib.suppress(ConnectionError):
            await self._running()

    async def write(self, clicks: Sequence[RawClick]) -> None:
        payload = pickle.dumps([tuple(click) for click in clicks], pickle.HIGHEST_PROTOCOL)
        with self._turn():
            sock = await self._running()
            loop = asyncio.get_running_loop()
            try:
                await loop.sock_sendall(sock, _frame(payload))
                reply = await _receive(loop, sock)
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
            sock, proc = self._sock, self._proc
            if sock is not None and proc is not None and proc.is_alive():
                with contextlib.suppress(OSError):
                    await asyncio.get_running_loop().sock_sendall(sock, _frame(pickle.dumps(None)))
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

    async def _running(self) -> socket.socket:
        if self._sock is not None and self._proc is not None and self._proc.is_alive():
            return self._sock
        self._discard()
        context = multiprocessing.get_context("spawn")  # never fork a threaded event loop
        parent, child = context.Pipe()
        proc = context.Process(
            target=_serve,
            args=(child, self.database_url, self.redis_url, self.window_seconds),
            name="briefmail-click-writer",
            daemon=True,
        )
        await asyncio.to_thread(proc.start)
        child.close()
        sock = socket.socket(fileno=os.dup(parent.fileno()))
        parent.close()
        sock.setblocking(False)
        self._sock, self._proc = sock, proc
        # The child says "ready" once its imports and set-up are done, so a batch never
        # waits on them and a writer that cannot start is known at once.
        try:
            ready = await asyncio.wait_for(
                _receive(asyncio.get_running_loop(), sock), _START_TIMEOUT
            )
            if ready != _READY:
                raise EOFError(f"unexpected first message {ready!r}")
        except (EOFError, OSError, TimeoutError) as exc:
            self._discard()
            raise ConnectionError(f"click writer did not start: {exc!r}") from None
        return sock

    def _discard(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
        if self._sock is not None:
            self._sock.close()
        self._sock = self._proc = None


def _frame(payload: bytes) -> bytes:
    """`multiprocessing.connection`'s framing: a big-endian 4-byte length, then the data."""
    return struct.pack("!i", len(payload)) + payload


async def _receive(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> object:
    (size,) = struct.unpack("!i", await _read_exactly(loop, sock, 4))
    return pickle.loads(await _read_exactly(loop, sock, size))  # noqa: S301 - our own child


async def _read_exactly(loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    done = 0
    while done < size:
        got = await loop.sock_recv_into(sock, view[done:])
        if not got:
            raise EOFError("the click writer closed its end")
        done += got
    return bytes(buffer)


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

    # Everything imported so far lives as long as the process: keep it out of the
    # collector's passes, and collect young objects less often (a batch makes tens of
    # thousands of short-lived tuples, none of them in a cycle).
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    conn.send(_READY)
    while True:
        try:
            rows = conn.recv()
        except (EOFError, OSError):
            break  # the web process is gone
        if rows is None:
            break
        try:
            store([RawClick._make(row) for row in rows])
        except Exception as exc:  # reported to the recorder, which keeps the batch
            conn.send(f"{type(exc).__name__}: {exc}"[:300])
        else:
            conn.send(None)
    stop.set()
    if drainer is not None:
        drainer.final_drain()
