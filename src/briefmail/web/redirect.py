"""`GET /c/TOKEN`: the click redirect, the one hot path.

Verify the token (an HMAC, microseconds), find the destination in the in-memory link
table, hand the click to the recorder (an append) and answer 302. Nothing here waits
for a database once a send's links are cached. The destination always comes from the
send's stored links, never from the request, so no token can redirect elsewhere.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from briefmail import clock
from briefmail.tracking import tokens
from briefmail.tracking.clicks import RawClick, new_event_key
from briefmail.tracking.tokens import BadToken, Purpose
from briefmail.web.context import context

_PREFETCH_HEADERS = ("purpose", "sec-purpose", "x-moz", "x-purpose")


async def click(request: Request) -> Response:
    ctx = context(request)
    try:
        send_id, link_id, subscriber_id = tokens.verify(
            ctx.keys, request.path_params["token"], Purpose.CLICK, arity=3
        )
    except BadToken:
        return ctx.pages.not_found()
    try:
        destination = await ctx.links.get(send_id, link_id)
    except Exception:  # the database is down and this send's links are not cached yet
        return ctx.pages.error(
            503, "Please try again", "This link is briefly unavailable. Please try again shortly."
        )
    if destination is None:
        return ctx.pages.not_found()
    headers = request.headers
    client = request.client
    ctx.recorder.record(
        RawClick(
            event_key=new_event_key(),
            send_id=send_id,
            link_id=link_id,
            subscriber_id=subscriber_id or None,
            clicked_at=clock.now(),
            method=request.method,
            ip=client.host if client else None,
            user_agent=headers.get("user-agent", ""),
            purpose=prefetch_hints(request),
        )
    )
    return destination.response


def prefetch_hints(request: Request) -> str:
    """The prefetch/preview hint headers browsers and proxies send, joined, lower-cased."""
    headers = request.headers
    return ",".join(v for name in _PREFETCH_HEADERS if (v := headers.get(name))).lower()
