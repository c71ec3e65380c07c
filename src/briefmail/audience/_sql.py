"""Core-level pieces shared by the audience services' set-based statements.

Imports and topic creation must survive a concurrent writer adding the same row, so
they insert with `ON CONFLICT DO NOTHING`; SQLAlchemy spells that per dialect. The
mapped tables are exposed as typed `Table`s for Core statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TypeVar, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from briefmail.db.models import Subscriber, Suppression, Topic, subscriber_topics

SUBSCRIBERS = cast(Table, Subscriber.__table__)
SUPPRESSIONS = cast(Table, Suppression.__table__)
TOPICS = cast(Table, Topic.__table__)
SUBSCRIBER_TOPICS = subscriber_topics

T = TypeVar("T")


def insert_ignoring_conflicts(
    session: Session, table: Table, conflict_columns: Sequence[str]
) -> postgresql.Insert | sqlite.Insert:
    """`INSERT ... ON CONFLICT (cols) DO NOTHING` for the session's database."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items (bound parameter lists stay small)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
