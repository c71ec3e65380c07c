"""Serving the real app over real HTTP in tests.

`LiveServer` runs uvicorn (httptools, the same server `briefmail web` runs) in a
thread on a free loopback port, with the click listener beside it if asked; stopping it
is a graceful shutdown, lifespan and all.
`start_subprocess` runs `briefmail web` itself, for tests that signal the process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from briefmail.config import Settings
from briefmail.web.app import create_app
from briefmail.web.clickport import ClickPort
from briefmail.web.serve import server_options


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    def __init__(self, settings: Settings, *, clicks: bool = False, **options: object) -> None:
        """`options` override `briefmail web`'s uvicorn options (`serve.server_options`);
        `clicks` also runs the click listener, on `click_port`, as `--click-port` does
        (the same trusted proxies and keep-alive timeout)."""
        options = server_options() | options
        self.click_port = 0
        where = None
        if clicks:
            where = ClickPort.bind(
                "127.0.0.1",
                0,
                forwarded_allow_ips=str(options["forwarded_allow_ips"]),
                keep_alive=float(options.get("timeout_keep_alive", 5)),  # type: ignore[arg-type]
            )
            self.click_port = where.port
        # The click writer starts at the first click: most of these servers get none.
        self.app = create_app(settings, start_writer_early=False, click_port=where)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", **options
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def ctx(self):  # type: ignore[no-untyped-def]
        return self.app.state.ctx

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)


def start_subprocess(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`briefmail web` on a free port; returns the process and its base URL once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "briefmail", "web", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, **env},
        cwd=cwd,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("briefmail web did not start")
        time.sleep(0.1)


def stop_subprocess(proc: subprocess.Popen[bytes]) -> bool:
    """SIGTERM and wait; True if it exited as uvicorn does after a graceful shutdown
    (it re-raises the signal it caught once the lifespan has finished)."""
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=60) in (0, -signal.SIGTERM)
