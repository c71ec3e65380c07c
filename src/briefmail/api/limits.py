"""Request bodies are capped before any handler sees them.

A body over its route's cap is answered 413 without being read to the end (by its
Content-Length when it states one, else as soon as the count passes the cap). Most
bodies are buffered here whole, which their small caps allow; a CSV import streams
past this to its handler, which counts it itself (`read_capped`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import IO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from briefmail.api.problems import ApiProblem, problem

JSON_LIMIT = 64 * 1024
BRIEF_LIMIT = 1024 * 1024
# Routes whose bodies stream to the handler (method, path ending).
STREAMED = {("POST", "/subscribers/import")}
LIMITS = {("POST", "/briefs"): BRIEF_LIMIT}


def _too_large(limit: int) -> str:
    return f"the request body is over {limit:,} bytes"


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        key = next(
            (
                k
                for k in (*LIMITS, *STREAMED)
                if k[0] == scope["method"] and scope["path"].endswith(k[1])
            ),
            None,
        )
        if key in STREAMED:
            await self.app(scope, receive, send)
            return
        limit = LIMITS.get(key, JSON_LIMIT) if key else JSON_LIMIT
        length = _content_length(scope)
        if length is not None and length > limit:
            await problem(413, _too_large(limit))(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await problem(413, _too_large(limit))(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def read_capped(stream: AsyncIterator[bytes], out: IO[bytes], limit: int) -> int:
    """Copy a streamed body into `out`; ApiProblem 413 once it passes `limit` bytes."""
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise ApiProblem(413, _too_large(limit))
        out.write(chunk)
    return size
