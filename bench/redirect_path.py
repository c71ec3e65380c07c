"""CPU per click redirect inside one process, without the network.

bench/redirect.py measures whole servers under wrk, on two shared cores, where run to
run noise is large. This script isolates the code's own work per request, in one run,
on a uvloop loop, through public interfaces only:

1. the bare Starlette app (bench/bare_redirect_app.py) called as an ASGI app: what the
   baseline's application costs on top of any ASGI server;
2. briefmail's app called as an ASGI app on /c/ (`ClickRedirects`): the same for the
   redirect on the web port;
3. the click listener (`briefmail.web.clicklistener`) fed the same HTTP bytes through a
   stand-in transport: the whole server side of a click, HTTP parsing and all.

Rows 1 and 2 leave out the ASGI server (uvicorn's share is in bench/redirect.py's
server CPU); row 3 has nothing left out. Clicks are recorded into the in-process buffer
and not stored: storage runs in other processes and is in bench/redirect.py's figures.

    .venv/bin/python bench/redirect_path.py [--requests 50000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KEY = "bench-secret-key-0123456789abcdef"
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
SEND_ID = 7
LINKS = {1: "https://example.org/a", 2: "https://example.org/b", 3: "https://example.org/demo"}


class Transport:
    """Just enough of an asyncio transport for the click listener; counts writes."""

    def __init__(self) -> None:
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1

    def close(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 50000) if name == "peername" else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def tokens(count: int) -> list[str]:
    from briefmail.config import get_settings
    from briefmail.tracking.tokens import click_token

    keys = get_settings().signing_keys()
    return [click_token(keys, SEND_ID, 1 + i % 3, 1000 + i) for i in range(count)]


def http_requests(batch: list[str]) -> list[bytes]:
    return [
        f"GET /c/{token} HTTP/1.1\r\nHost: links.example.org\r\nUser-Agent: {UA}\r\n"
        f"Accept: */*\r\n\r\n".encode()
        for token in batch
    ]


def scopes(batch: list[str]) -> list[dict[str, Any]]:
    """The scopes uvicorn would build, made before the clock starts."""
    headers = [(b"host", b"links.example.org"), (b"user-agent", UA.encode()), (b"accept", b"*/*")]
    common = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "root_path": "",
        "headers": headers,
        "method": "GET",
        "query_string": b"",
    }
    return [
        {**common, "path": f"/c/{t}", "raw_path": f"/c/{t}".encode(), "state": {}} for t in batch
    ]


async def through_asgi(app: Any, batch: list[str]) -> float:
    """CPU seconds for `app` to answer every request of `batch` as an ASGI app."""
    prepared = scopes(batch)
    sent = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal sent
        sent += 1

    started = time.process_time()
    for scope in prepared:
        await app(scope, receive, send)
    seconds = time.process_time() - started
    assert sent == 2 * len(batch), sent
    return seconds


async def through_listener(listener: Any, batch: list[str]) -> float:
    """CPU seconds for a click listener connection to answer `batch`, one request at a
    time as wrk's connections send them (the next after the answer)."""
    from briefmail.web.clicklistener import ClickConnection

    requests = http_requests(batch)
    connection = ClickConnection(listener)
    transport = Transport()
    connection.connection_made(transport)  # type: ignore[arg-type]
    started = time.process_time()
    for raw in requests:
        connection.data_received(raw)
    seconds = time.process_time() - started
    assert transport.writes == len(batch), transport.writes
    connection.connection_lost(None)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5, help="best of N runs per path")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="briefmail-path-")
    os.environ.update(
        BRIEFMAIL_SECRET_KEY=KEY, BRIEFMAIL_DATABASE_URL=f"sqlite:///{workdir}/unused.db"
    )
    import uvloop
    from bench.bare_redirect_app import create_app as create_bare_app

    from briefmail.config import get_settings
    from briefmail.web.app import create_app
    from briefmail.web.clicklistener import ClickListener
    from briefmail.web.forwarded import TrustedProxies
    from briefmail.web.linkcache import SendLinkCache
    from briefmail.web.redirect import ClickAnswers

    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    batch = tokens(args.requests)
    app = create_app(get_settings(), start_writer_early=False)
    ctx = app.state.ctx
    ctx.links = SendLinkCache(lambda _send_id: LINKS)
    loop.run_until_complete(ctx.links.get(SEND_ID, 1))  # the send is cached
    listener = ClickListener(ClickAnswers(ctx), trusted=TrustedProxies("127.0.0.1"))
    bare = create_bare_app()

    paths: list[tuple[str, Callable[[], Any]]] = [
        ("bare Starlette app, as ASGI (HMAC check, 302)", lambda: through_asgi(bare, batch)),
        ("briefmail app on /c/, as ASGI (ClickRedirects)", lambda: through_asgi(app, batch)),
        ("click listener, HTTP bytes in and out", lambda: through_listener(listener, batch)),
    ]
    python = sys.version.split()[0]
    print(f"{args.requests:,} requests per run, best of {args.repeat}; Python {python}")
    print()
    print("| path | CPU µs per request |")
    print("|---|---:|")
    for name, run in paths:
        best = min(loop.run_until_complete(run()) for _ in range(args.repeat))
        print(f"| {name} | {best / len(batch) * 1e6:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
