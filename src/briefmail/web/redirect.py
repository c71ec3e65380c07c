"""`/c/TOKEN`: the click redirect, the one hot path.

Verify the token (an HMAC, microseconds), find the destination in the in-memory link
table, hand the click to the recorder (an append) and answer 302. Nothing here waits
for a database once a send's links are cached. The destination always comes from the
send's stored links, never from the request, so no token can redirect elsewhere.

It is an ASGI middleware in front of Starlette's router rather than a route: at
redirect rates the per-request cost of routing and request objects is what separates
"as fast as a bare app" from "slower than one", and this path needs neither. Every
answer is still one of the app's own (the cached 302, the 404 page, the 405 page).
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from briefmail import clock
from briefmail.tracking import tokens
from briefmail.tracking.clicks import RawClick, new_event_key
from briefmail.tracking.tokens import BadToken, Purpose
from briefmail.web.context import WebContext

PREFIX = "/c/"
_PREFETCH_HEADERS = frozenset({b"purpose", b"sec-purpose", b"x-moz", b"x-purpose"})
# One str per distinct user agent: most clicks come from a few hundred browsers, and a
# shared str is decoded once and pickled once per batch to the click writer.
_agents: dict[bytes, str] = {}
_AGENTS_MAX = 10_000


class ClickRedirects:
    """Answers every request under /c/; passes everything else to `app`."""

    def __init__(self, app: ASGIApp, ctx: WebContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            response = await self.click(scope)
            await response(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def click(self, scope: Scope) -> Response:
        ctx = self.ctx
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            return ctx.pages.method_not_allowed("GET, HEAD")
        token = scope["path"][len(PREFIX) :]
        if "/" in token:
            return ctx.pages.not_found()
        try:
            send_id, link_id, subscriber_id = tokens.verify(ctx.keys, token, Purpose.CLICK, arity=3)
        except BadToken:
            return ctx.pages.not_found()
        destination = ctx.links.cached(send_id, link_id)
        if destination is None:
            try:
                destination = await ctx.links.get(send_id, link_id)
            except Exception:  # the database is down and this send's links are not cached
                return ctx.pages.error(
                    503, "Please try again", "This link is briefly unavailable. Please try again."
                )
        if destination is None:
            return ctx.pages.not_found()
        user_agent = b""
        hints = []
        for name, value in scope["headers"]:
            if name == b"user-agent":
                user_agent = value
            elif name in _PREFETCH_HEADERS:
                hints.append(value)
        client = scope.get("client")
        agent = _agents.get(user_agent)
        if agent is None:
            if len(_agents) >= _AGENTS_MAX:
                _agents.clear()
            agent = _agents[user_agent] = user_agent.decode("latin-1")
        ctx.recorder.record(
            RawClick(
                new_event_key(),
                send_id,
                link_id,
                subscriber_id or None,
                clock.timestamp(),
                method,
                client[0] if client else None,
                agent,
                b",".join(hints).decode("latin-1").lower() if hints else "",
            )
        )
        return destination.response


def prefetch_hints(headers: list[tuple[bytes, bytes]]) -> str:
    """The prefetch/preview hint headers browsers and proxies send, joined, lower-cased."""
    hints = [value for name, value in headers if name in _PREFETCH_HEADERS]
    return b",".join(hints).decode("latin-1").lower()
