"""Insert-or-ignore, the idempotency primitive of clicks and provider events.

Both tables carry a unique key computed from the thing itself (a click's event key,
an event's content hash); inserting "unless that key exists" makes every retry and
replay harmless. PostgreSQL and SQLite spell it the same way through SQLAlchemy's
dialect inserts; the returned column tells which rows were new.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import InstrumentedAttribute, Session

from briefmail.db.models import Base


def insert_new(
    session: Session,
    model: type[Base],
    rows: Sequence[dict[str, Any]],
    *,
    key: str,
    returning: InstrumentedAttribute[Any],
) -> list[Any]:
    """Insert `rows`, skipping those whose unique `key` exists; `returning` of new rows."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(model).on_conflict_do_nothing(index_elements=[key])
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(model).on_conflict_do_nothing(index_elements=[key])
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"unsupported database {dialect}")
    return list(session.scalars(stmt.returning(returning), list(rows)).all())
