"""The click listener: /c/ answered straight from HTTP bytes, on a port of its own.

Why: an ASGI server's per-request machinery (a scope, a task, a request-response
cycle, two messages) costs about as much CPU as the whole bare Starlette app the
redirect is measured against, so through ASGI a redirect that also verifies, looks up
and records a click cannot keep up with it (BENCHMARKS.md). ESPs serve tracking links
from a host of their own for the same reason. This is briefmail's: an asyncio protocol
on httptools' request parser that answers GET and HEAD of /c/TOKEN with the app's own
answers (`redirect.ClickAnswers`: the cached 302, the 404, 405 and 503 pages) and 404
to everything else. It runs beside the web app (`briefmail web --click-port`) or alone
(`briefmail clicks`), on a `clickport.ClickPort`; the web app answers /c/ on its own
port too.

HTTP/1.1 as uvicorn serves it: keep-alive (HTTP/1.0 and `Connection: close` close
after the answer), pipelined requests answered in order (reading pauses while an
answer waits for a send's links to load, or while the client does not read), the
client address from X-Forwarded-For only when the peer is a trusted proxy
(`forwarded`), and an idle connection closed after `keep_alive` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import deque
from email.utils import formatdate
from http import HTTPStatus
from typing import cast
from urllib.parse import unquote

import httptools
from starlette.responses import Response

from briefmail.web.forwarded import TrustedProxies
from briefmail.web.linkcache import Destination
from briefmail.web.redirect import PREFIX, Answer, ClickAnswers

log = logging.getLogger(__name__)
_HEAD_LIMIT = 16_384  # bytes of request line and headers; more is answered 431
_PATH = PREFIX.encode()
_INVALID = b"Invalid HTTP request received."
_CLOSE = b"connection: close\r\n"
_TOO_LARGE = Response("Request header fields too large.", status_code=431)
Headers = list[tuple[bytes, bytes]]
_STATUS = {
    status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode() for status in HTTPStatus
}


class ClickListener:
    """Serves `ClickConnection`s on one address; `close` stops it gracefully."""

    def __init__(
        self,
        answers: ClickAnswers,
        *,
        trusted: TrustedProxies,
        keep_alive: float = 5.0,
    ) -> None:
        self.answers = answers
        self.trusted = trusted
        self.keep_alive = keep_alive
        self.connections: set[ClickConnection] = set()
        self._server: asyncio.Server | None = None
        self._second = -1
        self._date = b""
        self._pages: dict[int, tuple[Response, bytes, bytes, bytes]] = {}

    async def start(self, sock: socket.socket) -> None:
        """Serve connections on the listening socket `sock` (closed by `close`)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: ClickConnection(self), sock=sock)

    async def close(self, timeout: float = 10.0) -> None:
        """Stop accepting; answer what has arrived, then close every connection."""
        if self._server is None:
            return
        self._server.close()
        self._server = None
        for connection in list(self.connections):
            connection.shutdown()
        deadline = time.monotonic() + timeout
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for connection in list(self.connections):
            connection.close_now()

    def date_line(self) -> bytes:
        """The Date header, formatted once a second."""
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._date = b"date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
        return self._date

    def encode(self, answer: Answer, *, head: bool, keep_alive: bool) -> bytes:
        """`answer` as HTTP/1.1 bytes (no body for HEAD)."""
        if isinstance(answer, Destination):
            status, lines, body = _STATUS[302], answer.header_lines, b""
        else:
            status, lines, body = self._parts(answer)
        close = b"" if keep_alive else _CLOSE
        return b"".join((status, lines, self.date_line(), close, b"\r\n", b"" if head else body))

    def _parts(self, page: Response) -> tuple[bytes, bytes, bytes]:
        """Status line, header lines and body of a page; the app's pages are the same
        few objects (`ClickAnswers`), so each is encoded once."""
        known = self._pages.get(id(page))
        if known is not None and known[0] is page:
            return known[1], known[2], known[3]
        lines = b"".join(name + b": " + value + b"\r\n" for name, value in page.raw_headers)
        parts = (_STATUS[page.status_code], lines, bytes(page.body))
        if len(self._pages) > 32:
            self._pages.clear()
        self._pages[id(page)] = (page, *parts)
        return parts


class ClickConnection(asyncio.Protocol):
    """One client connection: httptools' parser calls back here (`on_*`)."""

    def __init__(self, listener: ClickListener) -> None:
        self.listener = listener
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpRequestParser(self)
        # Data after a request that closes the connection is ignored, not an error.
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.transport: asyncio.Transport | None = None
        self.peer: str | None = None
        self.trusted_peer = False
        self.url = b""
        self.headers: Headers = []
        self.head_size = 0
        # Answers not written yet, in request order, when one waits for a send's links:
        # (answer or the task making it, whether the connection closes after it).
        self.waiting: deque[tuple[bytes | asyncio.Task[bytes], bool]] = deque()
        self.closing = False  # an answer that closes the connection is written or queued
        self.write_paused = False
        self.last_active = 0.0
        self.idle_timer: asyncio.TimerHandle | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if isinstance(peer, tuple) else None
        self.trusted_peer = self.peer is not None and self.listener.trusted.trusts(self.peer)
        self.listener.connections.add(self)
        self.last_active = self.loop.time()
        self.idle_timer = self.loop.call_later(self.listener.keep_alive, self._close_if_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self.listener.connections.discard(self)
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None

    def data_received(self, data: bytes) -> None:
        self.last_active = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._answer_then_close()  # what follows is another protocol
        except httptools.HttpParserError:
            if not self.closing:
                self._invalid_request()

    def pause_writing(self) -> None:
        self.write_paused = True
        self._reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._reading()

    # httptools callbacks

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.head_size = 0

    def on_url(self, url: bytes) -> None:
        self.head_size += len(url)
        if self.head_size <= _HEAD_LIMIT:
            self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_size += len(name) + len(value)
        if self.head_size <= _HEAD_LIMIT:
            self.headers.append((name.lower(), value))

    def on_message_complete(self) -> None:
        if self.closing:
            return  # pipelined behind a request that closed the connection: never answered
        parser = self.parser
        keep_alive = parser.should_keep_alive() and parser.get_http_version() != "1.0"
        method = parser.get_method().decode("latin-1")
        url, headers = self.url, self.headers
        if self.head_size > _HEAD_LIMIT:
            self._queue(self.listener.encode(_TOO_LARGE, head=False, keep_alive=False), False)
            return
        answer = None
        if not self.waiting:  # else it waits its turn: clicks are recorded in order too
            try:
                answer = self._answer(method, url, headers)
            except Exception:  # a bug: inside a parser callback it would become a bare 400
                log.exception("click listener: answering %r failed", url[:200])
                answer = self.listener.answers.failed()
        if answer is not None:
            head = method == "HEAD"
            self._queue(self.listener.encode(answer, head=head, keep_alive=keep_alive), keep_alive)
            return
        before = next((a for a, _ in reversed(self.waiting) if isinstance(a, asyncio.Task)), None)
        task = self.loop.create_task(self._answer_later(method, url, headers, keep_alive, before))
        task.add_done_callback(self._write_waiting)
        self._queue(task, keep_alive)

    # answering

    def _answer(self, method: str, url: bytes, headers: Headers) -> Answer | None:
        """The answer from memory, or None if it must wait for the send's links."""
        path = _path(url)
        if not path.startswith(PREFIX):
            return self.listener.answers.ctx.pages.not_found()
        return self.listener.answers.cached(method, path, headers, self._client(headers))

    async def _answer_later(
        self,
        method: str,
        url: bytes,
        headers: Headers,
        keep_alive: bool,
        before: asyncio.Task[bytes] | None,
    ) -> bytes:
        """The answer of a request that waits: for its send's links, or for its turn."""
        if before is not None:
            await asyncio.wait([before])
        try:
            path = _path(url)
            if not path.startswith(PREFIX):
                answer: Answer = self.listener.answers.ctx.pages.not_found()
            else:
                answer = await self.listener.answers.answer(
                    method, path, headers, self._client(headers)
                )
        except Exception:
            log.exception("click listener: answering %r failed", url[:200])
            answer = self.listener.answers.failed()
        return self.listener.encode(answer, head=method == "HEAD", keep_alive=keep_alive)

    def _client(self, headers: Headers) -> str | None:
        if self.trusted_peer:
            forwarded = [value for name, value in headers if name == b"x-forwarded-for"]
            if forwarded:
                return self.listener.trusted.client(forwarded) or self.peer
        return self.peer

    # writing, in order

    def _queue(self, answer: bytes | asyncio.Task[bytes], keep_alive: bool) -> None:
        close = not keep_alive or self.closing
        self.closing = close
        if not self.waiting and isinstance(answer, bytes):
            self._write(answer, close)
            return
        self.waiting.append((answer, close))
        self._reading()

    def _write_waiting(self, _task: object = None) -> None:
        while self.waiting:
            answer, close = self.waiting[0]
            if isinstance(answer, asyncio.Task):
                if not answer.done():
                    return
                answer = answer.result()
            self.waiting.popleft()
            self._write(answer, close)
        self._reading()

    def _write(self, data: bytes, close: bool) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        self.last_active = self.loop.time()
        if close:
            transport.close()

    def _reading(self) -> None:
        """Read while nothing waits to be written; pause otherwise (back-pressure)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.waiting or self.write_paused:
            transport.pause_reading()
        else:
            transport.resume_reading()

    def _answer_then_close(self) -> None:
        if not self.waiting:
            self.close_now()
        else:
            self.closing = True
            self.waiting[-1] = (self.waiting[-1][0], True)

    def _invalid_request(self) -> None:
        self.closing = True
        data = b"".join(
            (
                _STATUS[400],
                b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: %d\r\n" % len(_INVALID),
                self.listener.date_line(),
                _CLOSE,
                b"\r\n",
                _INVALID,
            )
        )
        self._queue(data, keep_alive=False)

    # closing

    def shutdown(self) -> None:
        """Close now if idle, else after the answers still owed."""
        if self.waiting:
            self._answer_then_close()
        else:
            self.close_now()

    def close_now(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _close_if_idle(self) -> None:
        """One timer per connection instead of a cancel-and-re-arm per request: when it
        fires, close the connection if nothing arrived or left for `keep_alive`."""
        self.idle_timer = None
        if self.transport is None or self.transport.is_closing():
            return
        timeout = self.listener.keep_alive
        idle = self.loop.time() - self.last_active
        if idle >= timeout and not self.waiting:
            self.transport.close()
            return
        self.idle_timer = self.loop.call_later(max(timeout - idle, 0.05), self._close_if_idle)


def _path(url: bytes) -> str:
    """The request's path as the ASGI app sees it: no query, %-escapes decoded."""
    if url.startswith(_PATH) and b"?" not in url and b"%" not in url:
        return url.decode("latin-1")
    try:
        path = httptools.parse_url(url).path.decode("latin-1")
    except httptools.HttpParserInvalidURLError:
        return ""  # "*" or worse: nothing here
    return unquote(path) if "%" in path else path
