"""Migrations are the only way the schema changes: they must match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from briefmail.db.models import Base
from briefmail.db.session import get_engine, upgrade


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
