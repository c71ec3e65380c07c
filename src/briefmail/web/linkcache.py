"""Destinations of tracked links, held in memory.

A send's links are written once, at snapshot time, and never change; so the first
click of a send loads all its links in one query and every later click of that send
is answered from memory, with no database round trip on the redirect path. Unknown
sends are remembered for a short while too, so a flood of validly signed tokens for a
deleted send cannot turn into a flood of queries.

The cached answer is a ready-made 302: its ASGI start message for the app's redirect
(`redirect.ClickRedirects`) and its header lines as bytes for the click listener
(`clicklistener`), built once per link instead of once per click.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.responses import Response

# Characters a URL may carry as they are; everything else (spaces, non-ASCII, control
# characters, quotes) is percent-encoded so the Location header stays a valid header.
_SAFE = ":/?#[]@!$&'()*+,;=%-._~"


@dataclass(frozen=True, slots=True)
class Destination:
    """The 302 to one link's URL."""

    start: dict[str, Any]  # the ASGI "http.response.start" message of the 302
    header_lines: bytes  # its headers, each "name: value\r\n"

    @classmethod
    def redirect(cls, location: str) -> Destination:
        headers = Response(
            status_code=302,
            headers={
                "location": location,
                "cache-control": "no-store",
                "referrer-policy": "no-referrer",
            },
        ).raw_headers
        start = {"type": "http.response.start", "status": 302, "headers": headers}
        lines = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        return cls(start, lines)


def safe_location(url: str) -> str | None:
    """`url` as a Location value, or None unless it is an absolute http(s) URL."""
    stripped = url.strip()
    try:
        parts = urlsplit(stripped)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return quote(stripped, safe=_SAFE)


class SendLinkCache:
    """send id -> {link id -> Destination}, loaded on the first miss of each send."""

    def __init__(
        self,
        load: Callable[[int], Mapping[int, str]],
        *,
        miss_seconds: float = 30.0,
    ) -> None:
        self._load = load  # blocking: (send_id) -> {link_id: url}; run in a thread
        self._sends: dict[int, dict[int, Destination]] = {}
        self._missing: dict[int, float] = {}
        self._pending: dict[int, asyncio.Future[Mapping[int, str]]] = {}
        self.miss_seconds = miss_seconds

    def cached(self, send_id: int, link_id: int) -> Destination | None:
        """The destination if this send's links are in memory (no await on the hot path)."""
        links = self._sends.get(send_id)
        return None if links is None else links.get(link_id)

    async def get(self, send_id: int, link_id: int) -> Destination | None:
        links = self._sends.get(send_id)
        if links is None:
            links = await self._fill(send_id)
        return links.get(link_id)

    async def _fill(self, send_id: int) -> dict[int, Destination]:
        if self._missing.get(send_id, 0.0) > time.monotonic():
            return {}
        future = self._pending.get(send_id)
        if future is None:
            # One query per send however many clicks arrive while it runs.
            future = asyncio.ensure_future(asyncio.to_thread(self._load, send_id))
            self._pending[send_id] = future
            future.add_done_callback(lambda _f: self._pending.pop(send_id, None))
        rows = await asyncio.shield(future)
        links = {}
        for link_id, url in rows.items():
            location = safe_location(url)
            if location is not None:
                links[link_id] = Destination.redirect(location)
        if rows:
            self._sends[send_id] = links
        else:
            self._missing[send_id] = time.monotonic() + self.miss_seconds
            if len(self._missing) > 10_000:
                self._missing.clear()
        return links
