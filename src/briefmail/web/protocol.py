"""uvicorn's HTTP protocol, answering cached click redirects itself.

Why: measured here, uvicorn spends about 20 µs of CPU per request on the ASGI machinery
alone (a scope dict, a task, a request-response cycle, two send messages, per-header
checks; a minimal ASGI app under uvicorn); the bare Starlette app the redirect is
measured against spends 26.5 in all (bench/redirect_path.py). That left no room for
verifying, looking up and recording a click and still matching it. Answered in the
protocol's own parser callbacks, a recorded click costs 10.3 µs.

Only the common case is answered here: GET or HEAD of /c/TOKEN (no query, no escapes)
carrying a valid token of a send whose links are in memory, on a connection with no
other response in flight and no write back-pressure. The answer, the recorded click
and the client address (X-Forwarded-For from a trusted proxy, read as uvicorn's
`ProxyHeadersMiddleware` reads it) are those of the ASGI path, from the same
`redirect.ClickAnswers`. Everything else (error pages, a send not cached yet, a
request pipelined behind a slow one, an app without click answers) goes the ordinary
way, through ASGI to `redirect.ClickRedirects` or the router.

This subclasses uvicorn's `HttpToolsProtocol` and uses its per-connection state
(`url`, `headers`, `cycle`, `pipeline`, `flow`, `on_response_complete`), so uvicorn
is capped below its next minor version in pyproject.toml; tests/web/test_protocol.py
shows which path answered each case.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.config import Config
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from briefmail.web.redirect import ClickAnswers

log = logging.getLogger(__name__)
_PREFIX = b"/c/"
_METHODS = {b"GET": "GET", b"HEAD": "HEAD"}
_FOUND = STATUS_LINE[302]


class ClickHttpProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` that answers a cached click redirect without ASGI."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.clicks, self.proxy = _find_clicks(self.app)
        if config.root_path or config.limit_concurrency is not None:
            self.clicks = None  # paths or 503s the ASGI path would handle differently
        self._fast = False
        self._in_message = False
        self._defaults_of: object = None
        self._defaults = b""
        self._answered_at = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None

    def on_message_begin(self) -> None:
        self._in_message = True
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        cycle = self.cycle
        self._fast = (
            self.clicks is not None
            and self.url.startswith(_PREFIX)
            and (cycle is None or cycle.response_complete)
            and not self.pipeline
            and not self.flow.write_paused
            and not self.expect_100_continue
            and not self.parser.should_upgrade()
        )
        if not self._fast:  # else answered (or handed on) when the message is complete
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._fast:  # a GET's body means nothing to a redirect
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_message = False
        if not self._fast:
            super().on_message_complete()
            return
        self._fast = False
        if self.transport.is_closing():
            return  # pipelined behind a request that closed the connection: never answered
        clicks = self.clicks
        try:
            lines = self._cached_redirect(clicks)
        except Exception:  # inside a parser callback it would become a bare 400: log it
            log.exception("click protocol: %r failed; the app answers it", self.url[:200])
            lines = None
        if lines is None or clicks is None:  # not ours to answer: the ASGI path does
            super().on_headers_complete()
            super().on_message_complete()
            return
        parser = self.parser
        keep_alive = parser.should_keep_alive() and parser.get_http_version() != "1.0"
        defaults = self.server_state.default_headers  # the date, replaced every second
        if defaults is not self._defaults_of:
            self._defaults_of = defaults
            self._defaults = b"".join(name + b": " + value + b"\r\n" for name, value in defaults)
        end = b"\r\n" if keep_alive else b"connection: close\r\n\r\n"
        self.transport.write(b"".join((_FOUND, self._defaults, lines, end)))
        clicks.answered_by_protocol += 1
        self.server_state.total_requests += 1
        if not keep_alive:
            self.transport.close()
            return
        # The keep-alive timeout without uvicorn's cancel-and-rearm of a timer per
        # request (a third of this path's CPU in bench/redirect_path.py): one timer per
        # connection that, when it fires, closes it if it has been idle long enough.
        self._answered_at = self.loop.time()
        if self._idle_timer is None:
            self._idle_timer = self.loop.call_later(self.timeout_keep_alive, self._close_if_idle)

    def on_response_complete(self) -> None:  # an answer of the ASGI path
        self._answered_at = self.loop.time()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        super().connection_lost(exc)

    def _close_if_idle(self) -> None:
        self._idle_timer = None
        cycle = self.cycle
        if (
            self.transport.is_closing()
            or self._in_message  # a request is arriving: uvicorn sets no timeout then
            or (cycle is not None and not cycle.response_complete)  # its end re-arms
        ):
            return
        idle = self.loop.time() - self._answered_at
        if idle >= self.timeout_keep_alive:
            self.transport.close()
        else:
            self._idle_timer = self.loop.call_later(
                self.timeout_keep_alive - idle, self._close_if_idle
            )

    def _cached_redirect(self, clicks: ClickAnswers | None) -> bytes | None:
        url = self.url
        method = _METHODS.get(self.parser.get_method())
        if method is None or b"?" in url or b"%" in url or clicks is None:
            return None
        peer = self.client[0] if self.client else None
        client = peer
        if self.proxy is not None and peer in self.proxy.trusted_hosts:
            client = _forwarded_client(self.proxy, self.headers) or peer
        return clicks.cached(method, url.decode("latin-1"), self.headers, client)


def _forwarded_client(proxy: ProxyHeadersMiddleware, headers: list[tuple[bytes, bytes]]) -> str:
    """The client a trusted proxy names, as `ProxyHeadersMiddleware` reads it ('' if none)."""
    values = []
    for name, value in headers:
        if name == b"x-forwarded-for":
            values.append(value)
    if not values:
        return ""
    host, _port = proxy.trusted_hosts.get_trusted_client_address(
        b", ".join(values).decode("latin1")
    )
    return host


def _find_clicks(app: object) -> tuple[ClickAnswers | None, ProxyHeadersMiddleware | None]:
    """The app's click answers (`app.state.clicks`) under uvicorn's wrappers, and the
    proxy-header wrapper if uvicorn added one."""
    proxy = None
    for _ in range(8):
        if isinstance(app, ProxyHeadersMiddleware):
            proxy = app
        clicks = getattr(getattr(app, "state", None), "clicks", None)
        if isinstance(clicks, ClickAnswers):
            return clicks, proxy
        app = getattr(app, "app", None)
        if app is None:
            break
    return None, None
