"""Write transactions that behave alike on PostgreSQL and SQLite.

Claiming work must be one atomic read-then-write. PostgreSQL does it with
`SELECT ... FOR UPDATE SKIP LOCKED`: concurrent workers each lock a different row.
SQLite has one writer at a time; `BEGIN IMMEDIATE` takes the write lock before the
read, so two processes cannot both read "pending" and both claim it, and a reader
never has to upgrade its lock mid-transaction (which fails at once with "database
is locked" instead of waiting).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import CursorResult, Result, Select
from sqlalchemy.orm import Session

Q = TypeVar("Q", bound="Select[*tuple[Any, ...]]")


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer (call first, on a fresh transaction)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.dbapi_connection
    if raw is not None and not getattr(raw, "in_transaction", False):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def skip_locked(session: Session, query: Q, of: Any) -> Q:
    """`FOR UPDATE SKIP LOCKED` where the database has it (SQLite holds the write lock)."""
    if is_postgres(session):
        return query.with_for_update(skip_locked=True, of=of)
    return query


def lock_rows(session: Session, query: Q, of: Any) -> Q:
    """`FOR UPDATE` (waiting for the lock) where the database has it."""
    if is_postgres(session):
        return query.with_for_update(of=of)
    return query


def rowcount(result: Result[*tuple[Any, ...]]) -> int:
    """Rows an UPDATE matched: how a conditional claim knows it won."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
