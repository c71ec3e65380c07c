"""`/c/TOKEN`: the click redirect, the one hot path.

Verify the token (an HMAC), find the destination in the in-memory link table, hand the
click to the recorder (an append) and answer 302. Nothing here waits for a database
once a send's links are cached. The destination always comes from the send's stored
links, never from the request, so no token can redirect elsewhere.

`ClickAnswers` holds that logic once, for two callers: `ClickRedirects`, in front of
the app's router (routing and request objects are per-request costs this path needs
neither of), and the click listener (`clicklistener`), which answers /c/ straight
from HTTP bytes on a port of its own. Both give the same answers: the cached 302, or
one of the app's pages (404, 405, 503).
"""

from __future__ import annotations

from typing import Any

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
_NO_BODY: dict[str, Any] = {"type": "http.response.body", "body": b""}
# One str per distinct user agent: most clicks come from a few hundred browsers, and a
# shared str is decoded once and written once per batch to the click writer.
_agents: dict[bytes, str] = {}
_AGENTS_MAX = 10_000

Ids = tuple[int, ...]
Headers = list[tuple[bytes, bytes]]
Answer = Destination | Response


class ClickAnswers:
    """Check a click token, find its destination, record the click."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self._pages: dict[int, Response] = {}  # the error pages, rendered once each

    def check(self, method: str, path: str) -> Ids | Response:
        """The token's (send, link, subscriber), or the error page to answer with."""
        if method != "GET" and method != "HEAD":
            return self._page(405)
        token = path[len(PREFIX) :]
        if "/" in token:
            return self.ctx.pages.not_found()
        try:
            return tokens.verify(self.ctx.keys, token, Purpose.CLICK, arity=3)
        except BadToken:
            return self.ctx.pages.not_found()

    def cached(self, method: str, path: str, headers: Headers, client: str | None) -> Answer | None:
        """The answer from memory, the click recorded; None when the token's send has no
        links in memory yet (then `answer`, which loads them)."""
        ids = self.check(method, path)
        if isinstance(ids, Response):
            return ids
        destination = self.ctx.links.cached(ids[0], ids[1])
        if destination is None:
            return None
        self.record(ids, method, headers, client)
        return destination

    async def answer(self, method: str, path: str, headers: Headers, client: str | None) -> Answer:
        """Like `cached`, loading the send's links first if need be."""
        ids = self.check(method, path)
        if isinstance(ids, Response):
            return ids
        try:
            destination = await self.ctx.links.get(ids[0], ids[1])
        except Exception:  # the database is down and this send's links are not cached
            return self._page(503)
        if destination is None:
            return self.ctx.pages.not_found()
        self.record(ids, method, headers, client)
        return destination

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

    def failed(self) -> Response:
        """The page for a click whose answer failed (a bug, logged by the caller)."""
        return self._page(500)

    def _page(self, status: int) -> Response:
        page = self._pages.get(status)
        if page is None:
            pages = self.ctx.pages
            if status == 405:
                page = pages.method_not_allowed("GET, HEAD")
            elif status == 503:
                page = pages.error(
                    503, "Please try again", "This link is briefly unavailable. Please try again."
                )
            else:
                page = pages.error(
                    500, "Something went wrong", "Please try again in a few minutes."
                )
            self._pages[status] = page
        return page


class ClickRedirects:
    """Answers every request under /c/; passes everything else to `app`."""

    def __init__(self, app: ASGIApp, answers: ClickAnswers) -> None:
        self.app = app
        self.answers = answers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        args = (scope["method"], scope["path"], scope["headers"], client[0] if client else None)
        answer = self.answers.cached(*args)
        if answer is None:
            answer = await self.answers.answer(*args)
        if isinstance(answer, Destination):
            await send(answer.start)
            await send(_NO_BODY)
        else:
            await answer(scope, receive, send)


def _joined(hints: list[bytes]) -> str:
    return b",".join(hints).decode("latin-1").lower()
