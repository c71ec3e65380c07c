"""Set-based subscriber writes for the CSV import: a few statements per chunk of rows.

SQLite gets plain executemany (its loop runs in C). PostgreSQL gets one statement per
chunk with array parameters (`= ANY(:keys)`, `INSERT .. SELECT FROM unnest(...)`,
`UPDATE .. FROM unnest(...)`): a generated multi-row VALUES statement with thousands
of named parameters costs more to build and parse than the rows cost to write.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Text,
    any_,
    bindparam,
    delete,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from briefmail.audience._sql import (
    SUBSCRIBER_TOPICS,
    SUBSCRIBERS,
    SUPPRESSIONS,
    insert_ignoring_conflicts,
)


@dataclass(frozen=True, slots=True)
class Existing:
    id: int
    name: str
    status: str


@dataclass(frozen=True, slots=True)
class NewSubscriber:
    email: str
    key: str
    name: str
    status: str
    secret: str


@dataclass(frozen=True, slots=True)
class Change:
    id: int
    name: str
    status: str


def bulk_writer(session: Session, now: datetime) -> BulkWriter:
    if session.get_bind().dialect.name == "postgresql":
        return PostgresBulkWriter(session, now)
    return BulkWriter(session, now)


class BulkWriter:
    """Portable statements: expanding IN lists and executemany."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now

    def _in(self, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
        return column.in_(values)

    def existing(self, keys: Sequence[str]) -> dict[str, Existing]:
        """email_key -> the subscriber already stored under it."""
        table = SUBSCRIBERS
        query = select(table.c.email_key, table.c.id, table.c.name, table.c.status).where(
            self._in(table.c.email_key, keys)
        )
        return {
            key: Existing(sid, name, status)
            for key, sid, name, status in self.session.execute(query)
        }

    def topics_of(self, ids: Sequence[int]) -> dict[int, set[str]]:
        links = SUBSCRIBER_TOPICS
        query = select(links.c.subscriber_id, links.c.topic_slug).where(
            self._in(links.c.subscriber_id, ids)
        )
        found: dict[int, set[str]] = {}
        for subscriber_id, slug in self.session.execute(query):
            found.setdefault(subscriber_id, set()).add(slug)
        return found

    def suppressed(self, keys: Sequence[str]) -> dict[str, str]:
        """email_key -> reason, for those of `keys` on the suppression list."""
        if not keys:
            return {}
        query = select(SUPPRESSIONS.c.email_key, SUPPRESSIONS.c.reason).where(
            self._in(SUPPRESSIONS.c.email_key, keys)
        )
        return dict(self.session.execute(query).all())

    def insert(self, rows: Sequence[NewSubscriber]) -> dict[str, int]:
        """Insert; email_key -> new id. Keys a concurrent writer took first are absent."""
        table = SUBSCRIBERS
        statement = insert_ignoring_conflicts(self.session, table, ["email_key"]).returning(
            table.c.email_key, table.c.id
        )
        params = [
            {
                "email": row.email,
                "email_key": row.key,
                "name": row.name,
                "status": row.status,
                "secret": row.secret,
                "created_at": self.now,
                "updated_at": self.now,
            }
            for row in rows
        ]
        return dict(self.session.execute(statement, params).all())

    def update(self, changes: Sequence[Change]) -> None:
        table = SUBSCRIBERS
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(name=bindparam("b_name"), status=bindparam("b_status"), updated_at=self.now)
        )
        params = [{"b_id": c.id, "b_name": c.name, "b_status": c.status} for c in changes]
        self.session.execute(statement, params)

    def link(self, pairs: Iterable[tuple[int, str]], *, replace: Sequence[int] = ()) -> None:
        """Add (subscriber_id, topic_slug) links, first dropping every link of `replace`."""
        if replace:
            links = SUBSCRIBER_TOPICS
            self.session.execute(delete(links).where(self._in(links.c.subscriber_id, replace)))
        params = [{"subscriber_id": sid, "topic_slug": slug} for sid, slug in pairs]
        if params:
            self.session.execute(SUBSCRIBER_TOPICS.insert(), params)


def _array(values: Sequence[Any], item: TypeEngine[Any]) -> ColumnElement[Any]:
    return literal(list(values), postgresql.ARRAY(item))


class PostgresBulkWriter(BulkWriter):
    """One statement per chunk, the rows travelling as arrays."""

    def _in(self, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
        return column == any_(_array(values, column.type))

    def insert(self, rows: Sequence[NewSubscriber]) -> dict[str, int]:
        table = SUBSCRIBERS
        source = (
            func.unnest(
                _array([r.email for r in rows], Text()),
                _array([r.key for r in rows], Text()),
                _array([r.name for r in rows], Text()),
                _array([r.status for r in rows], Text()),
                _array([r.secret for r in rows], Text()),
            )
            .table_valued("email", "email_key", "name", "status", "secret")
            .render_derived()
        )
        now = literal(self.now, DateTime(timezone=True))
        statement = (
            postgresql.insert(table)
            .from_select(
                ["email", "email_key", "name", "status", "secret", "created_at", "updated_at"],
                select(
                    source.c.email,
                    source.c.email_key,
                    source.c.name,
                    source.c.status,
                    source.c.secret,
                    now,
                    now,
                ),
            )
            .on_conflict_do_nothing(index_elements=["email_key"])
            .returning(table.c.email_key, table.c.id)
        )
        return dict(self.session.execute(statement).all())

    def update(self, changes: Sequence[Change]) -> None:
        table = SUBSCRIBERS
        source = (
            func.unnest(
                _array([c.id for c in changes], BigInteger()),
                _array([c.name for c in changes], Text()),
                _array([c.status for c in changes], Text()),
            )
            .table_valued("id", "name", "status")
            .render_derived()
        )
        statement = (
            update(table)
            .where(table.c.id == source.c.id)
            .values(name=source.c.name, status=source.c.status, updated_at=self.now)
        )
        self.session.execute(statement)

    def link(self, pairs: Iterable[tuple[int, str]], *, replace: Sequence[int] = ()) -> None:
        if replace:
            links = SUBSCRIBER_TOPICS
            self.session.execute(delete(links).where(self._in(links.c.subscriber_id, replace)))
        pairs = list(pairs)
        if not pairs:
            return
        source = (
            func.unnest(
                _array([sid for sid, _ in pairs], BigInteger()),
                _array([slug for _, slug in pairs], Text()),
            )
            .table_valued("subscriber_id", "topic_slug")
            .render_derived()
        )
        self.session.execute(
            SUBSCRIBER_TOPICS.insert().from_select(
                ["subscriber_id", "topic_slug"], select(source.c.subscriber_id, source.c.topic_slug)
            )
        )
