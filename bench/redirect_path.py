"""CPU per click redirect inside the server process, without the network.

bench/redirect.py measures whole servers under wrk, on two shared cores, where run to
run noise is ±10 %. This script isolates the server's own work per request: the same
HTTP bytes are fed to uvicorn's protocol objects in-process (a fake transport counts
the answers), on a uvloop loop, in one run, so the paths compare directly:

1. uvicorn's httptools protocol + the bare Starlette app (bench/bare_redirect_app.py);
2. uvicorn's httptools protocol + briefmail's app: the ASGI path (`ClickRedirects`);
3. `briefmail.web.protocol.ClickHttpProtocol` + briefmail's app: the protocol path.

Clicks are recorded into the in-process buffer and not stored:
storage runs in other processes and is in bench/redirect.py's figures.

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
LINKS = {1: ("https://example.org/a", "source"), 2: ("https://example.org/b", "source"),
         3: ("https://example.org/demo", "cta")}  # fmt: skip


class Transport:
    """Just enough of an asyncio transport for uvicorn's protocols; counts writes."""

    def __init__(self) -> None:
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1

    def close(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def requests(count: int) -> list[bytes]:
    from briefmail.config import get_settings
    from briefmail.tracking.tokens import click_token

    keys = get_settings().signing_keys()
    return [
        f"GET /c/{click_token(keys, SEND_ID, 1 + i % 3, 1000 + i)} HTTP/1.1\r\n"
        f"Host: links.example.org\r\nUser-Agent: {UA}\r\nAccept: */*\r\n\r\n".encode()
        for i in range(count)
    ]


async def drive(protocol: Any, transport: Transport, batch: list[bytes]) -> float:
    """CPU seconds to answer every request in `batch`, one at a time, as wrk's
    connections do (the next request is sent after the answer)."""
    started = time.process_time()
    for raw in batch:
        before = transport.writes
        protocol.data_received(raw)
        while transport.writes == before or not (
            protocol.cycle is None or protocol.cycle.response_complete
        ):
            await asyncio.sleep(0)
    return time.process_time() - started


def server_for(app: Any, http: Any, loop: asyncio.AbstractEventLoop) -> tuple[Any, Transport]:
    import uvicorn
    from uvicorn.server import ServerState

    from briefmail.web.serve import server_options

    options = server_options() | {"http": http}
    config = uvicorn.Config(app, **options)
    config.load()
    state = ServerState()
    state.default_headers = [(b"date", b"Thu, 26 Nov 2026 00:00:00 GMT")]
    protocol = config.http_protocol_class(config, state, {}, _loop=loop)  # type: ignore[call-arg]
    transport = Transport()
    protocol.connection_made(transport)
    return protocol, transport


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
    from briefmail.web.linkcache import SendLinkCache
    from briefmail.web.protocol import ClickHttpProtocol

    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    batch = requests(args.requests)

    def briefmail_app() -> Any:
        app = create_app(get_settings(), start_writer_early=False)
        app.state.ctx.links = SendLinkCache(lambda _send_id: LINKS)
        loop.run_until_complete(app.state.ctx.links.get(SEND_ID, 1))  # the send is cached
        return app

    paths: list[tuple[str, Callable[[], Any], Any]] = [
        ("uvicorn + bare Starlette app (HMAC check, 302)", create_bare_app, "httptools"),
        ("uvicorn + briefmail app (ASGI path)", briefmail_app, "httptools"),
        ("ClickHttpProtocol + briefmail app (protocol path)", briefmail_app, ClickHttpProtocol),
    ]
    python = sys.version.split()[0]
    print(f"{args.requests:,} requests per run, best of {args.repeat}; Python {python}")
    print()
    print("| path | CPU µs per request | requests/s of one core |")
    print("|---|---:|---:|")
    figures = []
    for name, make_app, http in paths:
        app = make_app()
        best = float("inf")
        for _ in range(args.repeat):
            protocol, transport = server_for(app, http, loop)
            seconds = loop.run_until_complete(drive(protocol, transport, batch))
            best = min(best, seconds)  # recorded clicks stay in the buffer (room for 500k)
        per_request = best / len(batch) * 1e6
        figures.append(per_request)
        print(f"| {name} | {per_request:.1f} | {1e6 / per_request:,.0f} |")
    print()
    print(f"protocol path vs bare app: {figures[0] / figures[2]:.2f}x less CPU per request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
