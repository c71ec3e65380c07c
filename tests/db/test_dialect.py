"""The database differences in `db.dialect`, on both databases, and that nothing else
asks which database it is on."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.types import Text

from briefmail.db.dialect import bulk_insert_ignoring, insert_new, member_of
from briefmail.db.models import Topic
from briefmail.db.session import session_scope, upgrade

SRC = Path(__file__).resolve().parents[2] / "src" / "briefmail"
TOPICS = cast(Table, Topic.__table__)
COLUMNS = ("slug", "name", "created_at")
WHEN = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)
# Where knowing the database is the job: the dialect module, engine set-up, schema.
# Settings name the database by its URL scheme, which they check at start.
ALLOWED = {"db/dialect.py", "db/session.py", "db/models.py", "config.py", "setting_checks.py"}


def _rows(*slugs: str) -> list[tuple[str, str, datetime]]:
    return [(slug, slug.title(), WHEN) for slug in slugs]


def _slugs() -> list[str]:
    with session_scope() as session:
        return list(session.scalars(select(Topic.slug).order_by(Topic.slug)))


def test_bulk_insert_stores_new_rows_and_skips_present_ones(db_url: str) -> None:
    upgrade(db_url)
    with session_scope() as session:
        assert bulk_insert_ignoring(session, TOPICS, COLUMNS, _rows("a", "b")) == 2
    # A retry of a batch partly stored before: only the new rows count, none fails.
    with session_scope() as session:
        assert bulk_insert_ignoring(session, TOPICS, COLUMNS, _rows("b", "c", "a", "d")) == 2
        # The transaction lives on after the fallback: later statements still work.
        assert session.scalar(select(Topic.name).where(Topic.slug == "d")) == "D"
    assert _slugs() == ["a", "b", "c", "d"]
    with session_scope() as session:
        assert bulk_insert_ignoring(session, TOPICS, COLUMNS, []) == 0


def test_bulk_insert_binary_copy_types(db_url: str) -> None:
    upgrade(db_url)
    types = ("text", "text", "timestamptz")
    with session_scope() as session:
        assert bulk_insert_ignoring(session, TOPICS, COLUMNS, _rows("x"), copy_types=types) == 1
    with session_scope() as session:
        rows = _rows("x", "y")
        assert bulk_insert_ignoring(session, TOPICS, COLUMNS, rows, copy_types=types) == 1
    assert _slugs() == ["x", "y"]


def test_insert_new_returns_only_the_new_keys(db_url: str) -> None:
    upgrade(db_url)
    rows = [{"slug": s, "name": s, "created_at": WHEN} for s in ("a", "b")]
    with session_scope() as session:
        assert sorted(insert_new(session, Topic, rows, key="slug", returning=Topic.slug)) == [
            "a",
            "b",
        ]
    rows.append({"slug": "c", "name": "c", "created_at": WHEN})
    with session_scope() as session:
        assert insert_new(session, Topic, rows, key="slug", returning=Topic.slug) == ["c"]


def test_member_of_matches_exactly_the_listed_values(db_url: str) -> None:
    upgrade(db_url)
    with session_scope() as session:
        bulk_insert_ignoring(session, TOPICS, COLUMNS, _rows(*(f"t{i:04}" for i in range(3000))))
    wanted = [f"t{i:04}" for i in range(0, 3000, 3)] + ["absent"]
    with session_scope() as session:
        found = session.scalars(
            select(Topic.slug).where(member_of(session, Topic.slug, wanted, Text()))
        )
        assert sorted(found) == wanted[:-1]


def _asks_for_the_database(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "dialect":
            lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "sqlalchemy.dialects"
        ):
            lines.append(node.lineno)
        if isinstance(node, ast.Constant) and node.value in ("postgresql", "sqlite"):
            lines.append(node.lineno)
    return lines


def test_only_the_dialect_module_asks_which_database_it_is_on() -> None:
    found = {}
    for path in SRC.rglob("*.py"):
        name = path.relative_to(SRC).as_posix()
        if name in ALLOWED or "/migrations/" in name:
            continue
        lines = _asks_for_the_database(ast.parse(path.read_text(encoding="utf-8")))
        if lines:
            found[name] = lines
    assert found == {}, "ask db.dialect instead: " + repr(found)


def test_the_check_sees_a_dialect_question() -> None:
    tree = ast.parse('if session.get_bind().dialect.name == "postgresql":\n    pass\n')
    assert _asks_for_the_database(tree) == [1, 1]
