"""Rows of the `clicks` table: the bulk insert of a classified batch, and re-marking
stored clicks that a later burst includes.

Batches arrive at redirect rates, so the insert is the bulk path of each database:
binary COPY on PostgreSQL (through a staging table and INSERT ... ON CONFLICT when a
batch was partly stored before), one executemany of INSERT OR IGNORE on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from sqlalchemy import BigInteger, ColumnElement, Table, any_, bindparam, insert, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.types import Text, TypeEngine

from briefmail.db.models import Click
from briefmail.tracking.classifier import Reason

COLUMNS = (
    "event_key", "send_id", "link_id", "subscriber_id", "clicked_at",
    "method", "ip", "user_agent", "automated", "reason",
)  # fmt: skip
_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS click_stage (event_key text, send_id bigint, "
    "link_id integer, subscriber_id bigint, clicked_at timestamptz, method text, ip text, "
    "user_agent text, automated boolean, reason text) ON COMMIT DELETE ROWS"
)
# PostgreSQL types of `COLUMNS`, for binary COPY.
_COPY_TYPES = [
    "text",
    "int8",
    "int4",
    "int8",
    "timestamptz",
    "text",
    "text",
    "text",
    "bool",
    "text",
]
_MOVE_STAGED = (
    f"INSERT INTO clicks ({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} "  # noqa: S608
    "FROM click_stage ON CONFLICT (send_id, event_key) DO NOTHING"
)  # constant column names only


def insert_clicks(session: Session, rows: list[tuple[Any, ...]]) -> int:
    """Insert `rows` (values in `COLUMNS` order) unless their key is stored; how many new."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        return _copy_into_clicks(driver, rows)
    table = Click.__table__
    assert isinstance(table, Table)
    result = connection.execute(
        insert(table).prefix_with("OR IGNORE"),
        [dict(zip(COLUMNS, row, strict=True)) for row in rows],
    )
    return int(result.rowcount)


def mark_burst(session: Session, clicks: set[tuple[int, str]]) -> None:
    """Re-mark stored human clicks, given as (send id, event key), as part of a burst."""
    if not clicks:
        return
    sends = sorted({send_id for send_id, _ in clicks})
    keys = sorted(key for _, key in clicks)
    session.execute(
        update(Click)
        .where(member_of(session, Click.send_id, sends))  # the key's first column
        .where(member_of(session, Click.event_key, keys, Text()))
        .where(Click.automated.is_(False))
        .values(automated=True, reason=Reason.BURST.value)
    )


def member_of(
    session: Session,
    column: InstrumentedAttribute[Any],
    values: Sequence[Any],
    item_type: TypeEngine[Any] | None = None,
) -> ColumnElement[bool]:
    """`column IN values`: one array parameter on PostgreSQL, literals on SQLite.

    Thousands of placeholders cost more to build and parse than the query itself.
    """
    if session.get_bind().dialect.name == "postgresql":
        array = bindparam(None, list(values), type_=ARRAY(item_type or BigInteger()))
        return column == any_(array)
    return column.in_(bindparam(None, list(values), literal_execute=True, expanding=True))


def _copy_into_clicks(driver: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> int:
    """Binary COPY straight into `clicks`; if a key is already there, insert the new ones.

    A batch is almost always new, and COPY into the table is the cheapest insert there
    is. A batch stored before (a retry after a lost reply, a stream entry drained twice)
    breaks the unique event key; then the batch goes through a staging table and
    INSERT ... ON CONFLICT DO NOTHING, inside a savepoint so the transaction lives on.
    """
    columns = ", ".join(COLUMNS)
    with driver.cursor() as cursor:
        cursor.execute("SAVEPOINT click_copy")
        try:
            with cursor.copy(f"COPY clicks ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_COPY_TYPES)
                for row in rows:
                    copy.write_row(row)
        except psycopg.errors.UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT click_copy")
        else:
            cursor.execute("RELEASE SAVEPOINT click_copy")
            return len(rows)
        cursor.execute(_STAGE)
        with cursor.copy(f"COPY click_stage ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_COPY_TYPES)
            for row in rows:
                copy.write_row(row)
        cursor.execute(_MOVE_STAGED)
        inserted = int(cursor.rowcount)
        cursor.execute("TRUNCATE click_stage")
        cursor.execute("RELEASE SAVEPOINT click_copy")
    return inserted
