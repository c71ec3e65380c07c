"""`briefmail preview --serve`: the live page, its frames, and reloading on save."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.briefs.variants import edited, example_text, write
from tests.browser import chromium

TITLE = "Clinician-Educators Want Coaching Programs, Not More Lectures"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, brief: Path, extra: list[str], env: dict[str, str] | None = None) -> None:
        self.brief = brief
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = Path(sys.executable).parent / "briefmail"
        self.process = subprocess.Popen(
            [str(command), "preview", str(brief), "--serve", "--port", str(self.port), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.process.communicate()}")
            try:
                httpx.get(f"{self.url}/version", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> tuple[str, str]:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.communicate()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(write(tmp_path, example_text()), [])
    yield running
    running.stop()


def test_page_shows_desktop_and_phone_frames_text_and_warnings(server: Server) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server.url + "/")
        assert page.title() == f"Preview · {TITLE}"
        frames = {
            frame_id: page.eval_on_selector(f"#{frame_id}", "el => el.clientWidth")
            for frame_id in ("desktop", "phone")
        }
        assert frames["phone"] == 375
        assert frames["desktop"] > 600
        phone = page.frame_locator("#phone")
        assert phone.locator("h1").inner_text() == TITLE
        phone_frame = page.frame(url=lambda url: "/email.html" in url)
        assert phone_frame is not None
        text = page.locator("#text").inner_text()
        assert text.startswith("View in browser:\nhttps://brief.example.org/archive/")
        assert "\n\nInsights · Clinician Learning Brief\n" in text
        assert "long-subject" in page.locator("#warnings").inner_text()
        page.close()
    html = httpx.get(server.url + "/email.html").text
    assert TITLE in html
    assert "%%bm:" not in html
    assert httpx.get(server.url + "/email.txt").text.startswith("View in browser:")


def test_events_announce_each_save_and_the_page_reloads(server: Server) -> None:
    first = httpx.get(server.url + "/version").json()
    assert first == {"version": 1, "error": None}
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server.url + "/")
        assert page.locator("#subject").inner_text() == TITLE
        with httpx.stream("GET", server.url + "/events", timeout=30) as events:
            lines = events.iter_lines()
            assert next(line for line in lines if line.startswith("data:")) == "data: 1"
            server.brief.write_text(edited(f"title: {TITLE}", "title: Saved again"))
            assert next(line for line in lines if line.startswith("data:")) == "data: 2"
        page.wait_for_function(
            "document.querySelector('#subject') && "
            "document.querySelector('#subject').textContent === 'Saved again'",
            timeout=20_000,
        )
        assert "Saved again" in page.frame_locator("#phone").locator("h1").inner_text()

        # A save that breaks the brief shows its errors; the next good save clears them.
        server.brief.write_text(edited("end: 2024-01-14", "end: 2024-01-01"))
        page.wait_for_selector("#error", timeout=20_000)
        error = page.locator("#error").inner_text()
        assert f"{server.brief}:" in error
        assert "coverage.end: 2024-01-01 is before start 2024-01-08" in error
        state = httpx.get(server.url + "/version").json()
        assert state["version"] == 3
        assert state["error"].startswith(f"{server.brief}:")
        assert httpx.get(server.url + "/email.html").status_code == 409

        server.brief.write_text(example_text())
        page.wait_for_selector("#desktop", timeout=20_000)
        assert page.locator("#subject").inner_text() == TITLE
        page.close()


def test_a_broken_brief_is_refused_before_serving(tmp_path: Path) -> None:
    brief = write(tmp_path, edited("(source:2)", "(source:9)"))
    port = free_port()
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "briefmail"),
            "preview",
            str(brief),
            "--serve",
            "--port",
            str(port),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{brief}:" in result.stderr
    assert "body: citation (source:9) names source 9" in result.stderr
    assert "Traceback" not in result.stderr


def test_open_launches_the_browser_on_the_page(tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    fake_browser = tmp_path / "fake-browser"
    fake_browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    fake_browser.chmod(0o755)
    running = Server(
        write(tmp_path, example_text()), ["--open"], env={"BROWSER": f"{fake_browser} %s"}
    )
    try:
        deadline = time.monotonic() + 20
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert opened.read_text().strip() == running.url + "/"
    finally:
        stdout, _ = running.stop()
    assert f"Preview at {running.url}/" in stdout
