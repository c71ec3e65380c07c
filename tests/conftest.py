"""Shared fixtures: real SQLite and PostgreSQL, real Redis, isolated settings.

Database tests take the `db_url` fixture, which runs each test on both SQLite (a
fresh file) and PostgreSQL (one throwaway database per session, migrated once,
truncated between tests). PostgreSQL is at 127.0.0.1:5432 with trust auth
(override with BRIEFMAIL_TEST_PG_URL).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from briefmail import clock
from briefmail.config import get_settings
from briefmail.db.session import dispose_engines, upgrade

PG_ADMIN_URL = os.environ.get(
    "BRIEFMAIL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("BRIEFMAIL_TEST_REDIS_URL", "redis://127.0.0.1:6379/")
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_BRIEF = ROOT / "examples" / "briefs" / "2024-01-08-clinician-educators.md"
# The signing key of every test (at least 32 bytes: shorter keys are refused).
TEST_SECRET_KEY = "test-secret-key-0123456789-abcdefghijkl"


@pytest.fixture(autouse=True)
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own outbox, key and SQLite file, and nothing from the caller's env."""
    for name in list(os.environ):
        if name.startswith("BRIEFMAIL_") and not name.startswith("BRIEFMAIL_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BRIEFMAIL_DATABASE_URL", f"sqlite:///{tmp_path / 'briefmail.db'}")
    monkeypatch.setenv("BRIEFMAIL_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("BRIEFMAIL_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("BRIEFMAIL_PUBLIC_URL", "https://brief.example.org")
    get_settings.cache_clear()
    dispose_engines()
    clock.set_now(None)
    yield tmp_path
    clock.set_now(None)
    dispose_engines()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session, migrated to head."""
    name = f"briefmail_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    dispose_engines()
    yield url
    dispose_engines()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(url: str) -> None:
    from briefmail.db.models import Base

    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The database under test, set as BRIEFMAIL_DATABASE_URL; runs the test on both."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'briefmail.db'}"
    else:
        url = request.getfixturevalue("pg_database")
        _truncate(url)
    monkeypatch.setenv("BRIEFMAIL_DATABASE_URL", url)
    get_settings.cache_clear()
    dispose_engines()
    return url


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A dedicated Redis database number, flushed before and after the test."""
    import redis

    url = REDIS_TEST_URL.rstrip("/") + "/" + os.environ.get("BRIEFMAIL_TEST_REDIS_DB", "13")
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()
