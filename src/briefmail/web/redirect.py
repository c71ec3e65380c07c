"""`/c/TOKEN`: the click redirect, the one hot path.

Verify the token (an HMAC, microseconds), find the destination in the in-memory link
table, hand the click to the recorder (an append) and answer 302. Nothing here waits
for a database once a send's links are cached. The destination always comes from the
send's stored links, never from the request, so no token can redirect elsewhere.

`ClickAnswers` holds that logic once. Two callers use it: `ClickRedirects`, an ASGI
middleware in front of Starlette's router (routing and request objects are per-request
costs this path needs neither of), and `briefmail.web.protocol`, which answers the
common case, a cached destination, inside uvicorn's HTTP protocol and hands every
other case to the middleware. Every answer is one of the app's own (the cached 302,
the 404 page, the 405 page).
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from briefmail import clock
from briefmail.tracking import tokens
from briefmail.tracking.clicks import RawClick, new_event_key
from briefmail.tracking.tokens import BadToken, Purpose
from briefmail.web.context import WebContext
from briefmail.web.linkcache import Destination

PREFIX = "/c/"
_PREFETCH_HEADERS = frozenset({b"purpose", b"sec-purpose", b"x-moz", b"x-purpose"})
# One str per distinct user agent: most clicks come from a few hundred browsers, and a
# shared str is decoded once and pickled once per batch to the click writer.
_agents: dict[bytes, str] = {}
_AGENTS_MAX = 10_000

Ids = tuple[int, ...]
Headers = list[tuple[bytes, bytes]]


class ClickAnswers:
    """Check a click token, find its destination, record the click."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.answered_by_protocol = 0  # counted by `protocol.ClickHttpProtocol`

    def check(self, method: str, path: str) -> Ids | Response:
        """The token's (send, link, subscriber), or the error page to answer with."""
        pages = self.ctx.pages
        if method != "GET" and method != "HEAD":
            return pages.method_not_allowed("GET, HEAD")
        token = path[len(PREFIX) :]
        if "/" in token:
            return pages.not_found()
        try:
            return tokens.verify(self.ctx.keys, token, Purpose.CLICK, arity=3)
        except BadToken:
            return pages.not_found()

    def cached(self, method: str, path: str, headers: Headers, client: str | None) -> bytes | None:
        """The cached redirect's header lines, the click recorded; None when the answer
        needs more (an error page, or a send whose links are not in memory yet)."""
        ids = self.check(method, path)
        if isinstance(ids, Response):
            return None
        destination = self.ctx.links.cached(ids[0], ids[1])
        if destination is None:
            return None
        self.record(ids, method, headers, client)
        return destination.header_lines

    async def answer(
        self, method: str, path: str, headers: Headers, client: str | None
    ) -> Response:
        ids = self.check(method, path)
        if isinstance(ids, Response):
            return ids
        destination: Destination | None = self.ctx.links.cached(ids[0], ids[1])
        if destination is None:
            try:
                destination = await self.ctx.links.get(ids[0], ids[1])
            except Exception:  # the database is down and this send's links are not cached
                return self.ctx.pages.error(
                    503, "Please try again", "This link is briefly unavailable. Please try again."
                )
        if destination is None:
            return self.ctx.pages.not_found()
        self.record(ids, method, headers, client)
        return destination.response

    def record(self, ids: Ids, method: str, headers: Headers, client: str | None) -> None:
        user_agent = b""
        hints = []
        for name, value in headers:
            if name == b"user-agent":
                user_agent = value
            elif name in _PREFETCH_HEADERS:
                hints.append(value)
        agent = _agents.get(user_agent)
        if agent is None:
            if len(_agents) >= _AGENTS_MAX:
                _agents.clear()
            agent = _agents[user_agent] = user_agent.decode("latin-1")
        send_id, link_id, subscriber_id = ids
        self.ctx.recorder.record(
            RawClick(
                new_event_key(),
                send_id,
                link_id,
                subscriber_id or None,
                clock.timestamp(),
                method,
                client,
                agent,
                _joined(hints) if hints else "",
            )
        )


class ClickRedirects:
    """Answers every request under /c/; passes everything else to `app`."""

    def __init__(self, app: ASGIApp, answers: ClickAnswers) -> None:
        self.app = app
        self.answers = answers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            client = scope.get("client")
            response = await self.answers.answer(
                scope["method"], scope["path"], scope["headers"], client[0] if client else None
            )
            await response(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def prefetch_hints(headers: Headers) -> str:
    """The prefetch/preview hint headers browsers and proxies send, joined, lower-cased."""
    return _joined([value for name, value in headers if name in _PREFETCH_HEADERS])


def _joined(hints: list[bytes]) -> str:
    return b",".join(hints).decode("latin-1").lower()
