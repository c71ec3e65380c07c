"""Everything that differs between SQLite and PostgreSQL, in one module.

briefmail runs on SQLite embedded and on PostgreSQL in production, and the two
differ where concurrency and bulk work meet: how a writer takes its lock, whether a
row lock can skip rows another worker holds, how "insert unless present" and "column
in this list" are spelled, and the fastest bulk insert. Every layer needs some of
these, so they live here, at the bottom, and callers never ask which database they
are on.

Claiming work must be one atomic read-then-write. PostgreSQL does it with
`SELECT ... FOR UPDATE SKIP LOCKED`: concurrent workers each lock a different row.
SQLite has one writer at a time; `BEGIN IMMEDIATE` takes the write lock before the
read, so two processes cannot both read "pending" and both claim it, and a reader
never has to upgrade its lock mid-transaction (which fails at once with "database
is locked" instead of waiting).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    CursorResult,
    Result,
    Select,
    Table,
    any_,
    bindparam,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.types import TypeEngine

from briefmail.db.models import Base

Q = TypeVar("Q", bound="Select[*tuple[Any, ...]]")


def is_postgres(session: Session | Connection) -> bool:
    """Whether the session (or connection) talks to PostgreSQL rather than SQLite."""
    bind = session.get_bind() if isinstance(session, Session) else session
    return bind.dialect.name == "postgresql"


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
    """Rows an UPDATE matched: how a conditional write knows it won."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def insert_ignoring(
    session: Session, table: Table, conflict_columns: Sequence[str]
) -> postgresql.Insert | sqlite.Insert:
    """`INSERT ... ON CONFLICT (cols) DO NOTHING`: a concurrent writer adding the same
    row first, or a retry replaying one, is harmless."""
    if is_postgres(session):
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)


def insert_new(
    session: Session,
    model: type[Base],
    rows: Sequence[dict[str, Any]],
    *,
    key: str,
    returning: InstrumentedAttribute[Any],
) -> list[Any]:
    """Insert `rows`, skipping those whose unique `key` exists; `returning` of new rows.

    Provider events, clicks and alarm notices carry a unique key computed from the
    thing itself, so "insert unless present" makes every retry and replay harmless and
    the returned column tells which rows were new.
    """
    if not rows:
        return []
    table = model.__table__
    assert isinstance(table, Table)
    statement = insert_ignoring(session, table, [key]).returning(returning)
    return list(session.scalars(statement, list(rows)).all())


def member_of(
    session: Session,
    column: InstrumentedAttribute[Any],
    values: Sequence[Any],
    item_type: TypeEngine[Any] | None = None,
) -> ColumnElement[bool]:
    """`column IN values`: one array parameter on PostgreSQL, literals on SQLite.

    Thousands of placeholders cost more to build and parse than the query itself.
    """
    if is_postgres(session):
        array = bindparam(None, list(values), type_=postgresql.ARRAY(item_type or BigInteger()))
        return column == any_(array)
    return column.in_(bindparam(None, list(values), literal_execute=True, expanding=True))


def driver_value(session: Session, column_type: TypeEngine[Any], value: Any) -> Any:
    """`value` as the database driver is handed it for a column of `column_type`, for
    statements written at the driver level that must store exactly what the ORM
    stores (SQLite keeps datetimes as text in SQLAlchemy's own format)."""
    dialect = session.get_bind().dialect
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    return process(value) if process else value


def bulk_insert_ignoring(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    copy_types: Sequence[str] | None = None,
) -> int:
    """Insert `rows` (values in `columns` order), skipping any that would break a unique
    key; how many were new.

    This is the bulk path of each database. On PostgreSQL, COPY straight into the table
    (the cheapest insert there is; binary when `copy_types` names the columns'
    PostgreSQL types), inside a savepoint: a batch is almost always new. When a row is
    already there (a retry after a lost reply, a concurrent writer first), the savepoint
    is rolled back and the rows go through a per-connection staging table and one
    `INSERT ... SELECT ... ON CONFLICT DO NOTHING`. On SQLite, one executemany of
    `INSERT ... ON CONFLICT DO NOTHING`, whose loop runs in C.
    """
    if not rows:
        return 0
    if not is_postgres(session):
        result = session.connection().execute(
            sqlite.insert(table).on_conflict_do_nothing(),
            [dict(zip(columns, row, strict=True)) for row in rows],
        )
        return rowcount(result)
    driver = session.connection().connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return _copy_ignoring(driver, table.name, columns, rows, copy_types)


def _copy_ignoring(
    driver: psycopg.Connection[Any],
    table: str,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    copy_types: Sequence[str] | None,
) -> int:
    names = sql.SQL(", ").join(sql.Identifier(column) for column in columns)
    target, stage = sql.Identifier(table), sql.Identifier(f"briefmail_stage_{table}")
    with driver.cursor() as cursor:
        cursor.execute("SAVEPOINT briefmail_copy")
        try:
            _copy(cursor, target, names, rows, copy_types)
        except psycopg.errors.UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT briefmail_copy")
        else:
            cursor.execute("RELEASE SAVEPOINT briefmail_copy")
            return len(rows)
        cursor.execute(
            sql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS {} ON COMMIT DELETE ROWS"
                " AS SELECT {} FROM {} WITH NO DATA"
            ).format(stage, names, target)
        )
        _copy(cursor, stage, names, rows, copy_types)
        cursor.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING").format(
                target, names, names, stage
            )
        )
        inserted = int(cursor.rowcount)
        cursor.execute(sql.SQL("TRUNCATE {}").format(stage))
        cursor.execute("RELEASE SAVEPOINT briefmail_copy")
    return inserted


def _copy(
    cursor: psycopg.Cursor[Any],
    table: sql.Identifier,
    names: sql.Composed,
    rows: Sequence[tuple[Any, ...]],
    copy_types: Sequence[str] | None,
) -> None:
    form = sql.SQL(" (FORMAT BINARY)" if copy_types else "")
    statement = sql.SQL("COPY {} ({}) FROM STDIN{}").format(table, names, form)
    with cursor.copy(statement) as copy:
        if copy_types:
            copy.set_types(list(copy_types))
        for row in rows:
            copy.write_row(row)
