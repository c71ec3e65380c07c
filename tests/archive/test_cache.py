"""The web app's archive cache through a database outage: the last reading is kept,
the failure is logged once, and with no reading yet the answer is a quick 503."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from briefmail.archive.cache import ArchiveCache, ArchiveUnavailable
from briefmail.archive.pages import Pages, SiteOptions
from briefmail.archive.urls import Urls
from briefmail.config import get_settings
from briefmail.db.session import session_factory
from tests.archive.world import T0, World, brief_text
from tests.conftest import PG_ADMIN_URL

NO_DATABASE = PG_ADMIN_URL.rsplit("/", 1)[0] + "/briefmail_archive_no_such_database"


def test_an_outage_keeps_the_last_reading(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    world = World(tmp_path)
    first_slug = world.store(brief_text())
    world.send(first_slug)
    settings = get_settings()
    pages = Pages(SiteOptions.from_settings(settings), Urls.for_app(settings.public_url))
    working = session_factory(settings.database_url)
    cache = ArchiveCache(working, pages, refresh_seconds=0.01)

    async def scenario() -> None:
        before = await cache.site()
        assert set(before.briefs) == {first_slug}
        cache.sessions = sessionmaker(create_engine(NO_DATABASE))
        for _ in range(3):
            await asyncio.sleep(0.02)
            assert await cache.site() is before
        cache.sessions = working
        second = world.store(brief_text("The Next One", "2024-01-15"))
        world.send(second, at=T0)
        await asyncio.sleep(0.02)
        after = await cache.site()
        assert set(after.briefs) == {first_slug, second}
        assert after.briefs[first_slug] is before.briefs[first_slug]  # not rendered again

    with caplog.at_level(logging.WARNING, logger="briefmail.archive.cache"):
        asyncio.run(scenario())
    failures = [r for r in caplog.records if "cannot read what went out" in r.getMessage()]
    assert len(failures) == 1  # once per outage
    assert any("answers again" in r.getMessage() for r in caplog.records)


def test_with_no_reading_and_no_database_the_answer_is_503(start_server) -> None:
    server = start_server(database_url=NO_DATABASE, archive_refresh_seconds=60)
    first = httpx.get(f"{server.url}/archive")
    assert first.status_code == 503
    assert first.headers["retry-after"] == "30"
    for path in ("/archive/anything", "/feed.xml"):
        assert httpx.get(server.url + path).status_code == 503


def test_with_no_reading_the_database_is_tried_once_per_interval() -> None:
    failing = sessionmaker(create_engine(NO_DATABASE))
    opened: list[int] = []

    def counted():  # type: ignore[no-untyped-def]
        opened.append(1)
        return failing()

    settings = get_settings()
    pages = Pages(SiteOptions.from_settings(settings), Urls.for_app(settings.public_url))
    cache = ArchiveCache(counted, pages, refresh_seconds=60)  # type: ignore[arg-type]

    async def hammer() -> None:
        for _ in range(20):
            with pytest.raises(ArchiveUnavailable):
                await cache.site()

    asyncio.run(hammer())
    assert len(opened) == 1
