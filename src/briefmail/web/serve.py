"""How the web app and the click listener are served: one set of options for
`briefmail web`, `briefmail clicks`, the demo and the tests, so that what is tested is
what runs."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import uvloop

from briefmail.config import Settings
from briefmail.web.clickport import ClickPort, listening
from briefmail.web.context import WebContext
from briefmail.web.redirect import ClickAnswers


def server_options(*, forwarded_allow_ips: str = "127.0.0.1") -> dict[str, Any]:
    """uvicorn options: uvloop and httptools, no access log, proxy headers from
    `forwarded_allow_ips` only, and 30 s for in-flight requests on a graceful stop."""
    return {
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "access_log": False,
        "proxy_headers": True,
        "forwarded_allow_ips": forwarded_allow_ips,
        "server_header": False,
        "timeout_graceful_shutdown": 30,
    }


def run_click_listener(settings: Settings, where: ClickPort) -> None:
    """The click listener alone (`briefmail clicks`) until SIGTERM or SIGINT; then a
    graceful stop: answers owed are written and every buffered click is stored."""
    uvloop.run(_click_listener(settings, where))


async def _click_listener(settings: Settings, where: ClickPort) -> None:
    ctx = WebContext.build(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with ctx.lifespan(None), listening(ClickAnswers(ctx), where):
        await stop.wait()
