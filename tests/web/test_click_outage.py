"""Clicks survive a database outage and a graceful stop, in the real `briefmail web` process."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text

from briefmail.config import get_settings
from briefmail.db.models import Click
from briefmail.db.session import dispose_engines, session_scope, upgrade
from briefmail.tracking.tokens import click_token
from tests.conftest import PG_ADMIN_URL
from tests.tracking.factories import build_world
from tests.web.conftest import BROWSER_UA
from tests.web.server import start_subprocess, stop_subprocess


def wait_for(condition: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def health(url: str) -> dict:
    return httpx.get(f"{url}/healthz", timeout=5).json()["clicks"]


@pytest.fixture
def throwaway_pg() -> Iterator[tuple[str, Callable[[bool], None]]]:
    """A PostgreSQL database of its own, and a switch that makes it unavailable."""
    name = f"briefmail_outage_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)

    def available(yes: bool) -> None:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(yes).lower()}'))
            if not yes:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )

    yield url, available
    dispose_engines()
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def count_clicks(url: str) -> int:
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(Click)) or 0


@pytest.fixture
def outage_world(throwaway_pg, monkeypatch):  # type: ignore[no-untyped-def]
    """A sent brief in the throwaway database, which `briefmail web` is pointed at:
    (url, available, world, keys)."""
    url, available = throwaway_pg
    world = build_world(url)
    dispose_engines()
    monkeypatch.setenv("BRIEFMAIL_DATABASE_URL", url)
    get_settings.cache_clear()
    return url, available, world, get_settings().signing_keys()


def test_a_click_during_a_database_outage_lands_when_it_is_back(outage_world, tmp_path) -> None:
    url, available, world, keys = outage_world
    proc, base = start_subprocess({}, tmp_path)
    try:
        sub = world.subscribers[0]
        client = httpx.Client(headers={"user-agent": BROWSER_UA})
        first = client.get(f"{base}/c/{click_token(keys, world.send_id, 1, sub)}")
        assert first.status_code == 302
        wait_for(lambda: health(base)["written"] == 1, "the first click to be written")

        available(False)
        during = client.get(f"{base}/c/{click_token(keys, world.send_id, 2, sub)}")
        assert during.status_code == 302  # answered from the link cache, database down
        assert during.headers["location"] == "https://www.youtube.com/watch?v=ki-34"
        wait_for(lambda: health(base)["failures"] >= 1, "a failed flush")
        state = health(base)
        assert state["buffered"] == 1
        assert state["written"] == 1
        assert httpx.get(f"{base}/healthz", timeout=5).json()["status"] == "degraded"

        available(True)
        wait_for(lambda: health(base)["buffered"] == 0, "the buffer to drain")
        dispose_engines()
        assert count_clicks(url) == 2
        # And a graceful stop loses nothing that was answered.
        for link_id in (1, 2, 3):
            client.get(
                f"{base}/c/{click_token(keys, world.send_id, link_id, world.subscribers[1])}"
            )
        client.close()
    finally:
        assert stop_subprocess(proc)
    dispose_engines()
    assert count_clicks(url) == 5


def test_clicks_a_stop_cannot_store_are_spooled_and_stored_at_the_next_start(
    outage_world, tmp_path
) -> None:
    url, available, world, keys = outage_world
    spool = tmp_path / "spool"
    env = {"BRIEFMAIL_CLICK_STOP_SECONDS": "1", "BRIEFMAIL_CLICK_SPOOL_DIR": str(spool)}
    proc, base = start_subprocess(env, tmp_path)
    try:
        with httpx.Client(headers={"user-agent": BROWSER_UA}) as client:
            sub = world.subscribers[0]
            client.get(f"{base}/c/{click_token(keys, world.send_id, 1, sub)}")
            wait_for(lambda: health(base)["written"] == 1, "the first click to be written")
            available(False)
            for link_id in (2, 3):
                answer = client.get(f"{base}/c/{click_token(keys, world.send_id, link_id, sub)}")
                assert answer.status_code == 302
            wait_for(lambda: health(base)["failures"] >= 1, "a failed flush")
    finally:
        assert stop_subprocess(proc)  # the database is still down
    assert [p.name[:7] for p in spool.iterdir()] == ["clicks-"]
    available(True)
    dispose_engines()
    assert count_clicks(url) == 1

    proc, base = start_subprocess(env, tmp_path)  # takes the spool back first
    try:
        wait_for(lambda: health(base)["written"] == 2, "the spooled clicks to be written")
    finally:
        assert stop_subprocess(proc)
    dispose_engines()
    assert count_clicks(url) == 3
    assert list(spool.iterdir()) == []


def test_clicks_through_the_redis_stream_are_all_stored(
    db_url, redis_url, monkeypatch, tmp_path
) -> None:
    world = build_world(db_url)
    monkeypatch.setenv("BRIEFMAIL_REDIS_URL", redis_url)
    get_settings.cache_clear()
    keys = get_settings().signing_keys()
    proc, base = start_subprocess({}, tmp_path)
    try:
        with httpx.Client(headers={"user-agent": BROWSER_UA}) as client:
            for sub in world.subscribers:
                for link_id in (1, 3):
                    token = click_token(keys, world.send_id, link_id, sub)
                    assert client.get(f"{base}/c/{token}").status_code == 302
        dispose_engines()
        wait_for(lambda: count_clicks(db_url) == 6, "the drainer to store the clicks")
        client2 = httpx.Client(headers={"user-agent": BROWSER_UA})
        client2.get(f"{base}/c/{click_token(keys, world.send_id, 2, world.subscribers[0])}")
        client2.close()
    finally:
        assert stop_subprocess(proc)
    dispose_engines()
    assert count_clicks(db_url) == 7


def _descendants(pid: int) -> list[str]:
    """Command lines of `pid`'s descendants (granian's workers, their children), from /proc."""
    parents: dict[int, int] = {}
    cmdlines: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        cmdlines[int(entry)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    found, frontier = [], {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found += [cmdlines[child] for child in frontier]
    return found


def test_briefmail_web_starts_its_click_writer_before_the_first_click(
    db_url, monkeypatch, tmp_path
) -> None:
    """The writer's start (a second of imports) must not land on the first clicks."""
    monkeypatch.setenv("BRIEFMAIL_DATABASE_URL", db_url)
    proc, _base = start_subprocess({}, tmp_path)
    try:
        wait_for(
            lambda: any("spawn_main" in c for c in _descendants(proc.pid)),
            "the click writer process",
            limit=20,
        )
    finally:
        assert stop_subprocess(proc)
