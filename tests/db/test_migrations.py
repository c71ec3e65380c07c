"""Migrations are the only way the schema changes: they must match the models exactly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import JSON, DateTime, Integer, String, column, insert, inspect, table, text

from briefmail.db.models import Base
from briefmail.db.session import alembic_config, get_engine, upgrade


def test_migrations_match_models(db_url: str) -> None:
    upgrade(db_url)
    engine = get_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_new_sqlite_database_upgrades_itself(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    engine = get_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert {"subscribers", "briefs", "sends", "batches", "deliveries", "clicks"} <= tables


@pytest.fixture(params=["sqlite", "postgresql"])
def unmigrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each dialect, which nothing has migrated yet."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return str(request.getfixturevalue("empty_pg"))


def _migrate(url: str, action: Callable[..., None], revision: str) -> None:
    engine = get_engine(url, auto_upgrade=False)
    with engine.begin() as connection:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = connection
        action(cfg, revision)


def test_0008_fills_attempt_keys_from_stored_payloads(unmigrated_url: str) -> None:
    url = unmigrated_url
    _migrate(url, command.upgrade, "0007")
    payloads: list[dict[str, Any]] = [
        {"event": "processed", "batch_id": "1", "attempt_key": "merged-key"},
        {"event": "bounce", "custom_args": {"batch_id": 1, "attempt_key": "nested-key"}},
        {"event": "open", "batch_id": "1"},  # no key: not one of our requests
        {"event": "dropped", "attempt_key": "x" * 65},  # longer than any key of ours
        {"event": "delivered", "attempt_key": 12345},
    ]
    # More rows than one chunk of the backfill, so chunks follow one another.
    payloads += [{"event": "delivered", "attempt_key": f"k{i}"} for i in range(2100)]
    old_events = table(
        "provider_events",
        column("dedupe_key", String()),
        column("provider", String()),
        column("event", String()),
        column("batch_id", Integer()),
        column("payload", JSON()),
        column("received_at", DateTime(timezone=True)),
    )
    engine = get_engine(url, auto_upgrade=False)
    with engine.begin() as conn:
        conn.execute(
            insert(old_events),
            [
                {
                    "dedupe_key": f"{i:064d}",
                    "provider": "sendgrid",
                    "event": p["event"],
                    "batch_id": 1,
                    "payload": p,
                    "received_at": datetime(2026, 12, 1, tzinfo=UTC),
                }
                for i, p in enumerate(payloads)
            ],
        )
    _migrate(url, command.upgrade, "0008")
    with engine.connect() as conn:
        keys = conn.execute(text("SELECT attempt_key FROM provider_events ORDER BY id")).scalars()
        assert list(keys) == [
            "merged-key",
            "nested-key",
            None,
            None,
            "12345",
            *(f"k{i}" for i in range(2100)),
        ]
    indexes = {
        ix["name"]: ix["column_names"] for ix in inspect(engine).get_indexes("provider_events")
    }
    assert indexes["ix_provider_events_batch_id_attempt_key"] == ["batch_id", "attempt_key"]
    assert "ix_provider_events_batch_id" not in indexes
    _migrate(url, command.downgrade, "0007")
    inspector = inspect(engine)
    columns = {c["name"] for c in inspector.get_columns("provider_events")}
    assert "attempt_key" not in columns
    assert "ix_provider_events_batch_id" in {
        ix["name"] for ix in inspector.get_indexes("provider_events")
    }
