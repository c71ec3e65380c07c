"""`INSERT ... ON CONFLICT DO NOTHING`, spelled for the session's database.

Topic creation, imports and suppressions must survive a concurrent writer adding the
same row first; SQLAlchemy spells that per dialect, so it is spelled once, here, low
enough that every layer may use it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignoring_conflicts(
    session: Session, table: Table, conflict_columns: Sequence[str]
) -> postgresql.Insert | sqlite.Insert:
    """`INSERT ... ON CONFLICT (cols) DO NOTHING` for the session's database."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
