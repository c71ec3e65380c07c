"""Set-based subscriber writes for the CSV import: a few statements per chunk of rows.

These are plain driver-level statements, one class per database, because at 100,000
rows the ORM/Core per-row parameter processing costs more than the database does
(bench/audience.py). SQLite gets executemany (its loop runs in C). PostgreSQL
(psycopg) gets one statement per chunk with binary array parameters (`= ANY(%(k)b)`,
`INSERT .. SELECT FROM unnest(...)`, `UPDATE .. FROM unnest(...)`): psycopg dumps a
list bound with `%b` several times faster than the quoted text form.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from briefmail.audience._sql import SUBSCRIBERS
from briefmail.db.dialect import driver_value, is_postgres


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


class BulkWriter(Protocol):
    def existing(self, keys: Sequence[str]) -> dict[str, Existing]:
        """email_key -> the subscriber already stored under it."""

    def topics_of(self, ids: Sequence[int]) -> dict[int, set[str]]:
        """subscriber id -> the slugs of their topics (absent: no topics)."""

    def suppressed(self, keys: Sequence[str]) -> dict[str, str]:
        """email_key -> reason, for those of `keys` on the suppression list."""

    def insert(self, rows: Sequence[NewSubscriber]) -> dict[str, int]:
        """Insert; email_key -> new id. Keys a concurrent writer took first are absent."""

    def update(self, changes: Sequence[Change]) -> None:
        """Set name and status (and updated_at) of existing subscribers."""

    def link(self, pairs: Iterable[tuple[int, str]], *, replace: Sequence[int] = ()) -> None:
        """Add (subscriber_id, topic_slug) links, first dropping every link of `replace`."""


def bulk_writer(session: Session, now: datetime) -> BulkWriter:
    """The writer for the session's database (PostgreSQL through psycopg, or SQLite)."""
    if is_postgres(session):
        return PostgresBulkWriter(session, now)
    return SqliteBulkWriter(session, now)


class SqliteBulkWriter:
    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = driver_value(session, SUBSCRIBERS.c.created_at.type, now)

    def _where_in(self, sql: str, values: Sequence[Any]) -> Iterable[Any]:
        """Run `sql` (ending in a column) with `IN (?, ?, ...)` for `values` appended."""
        marks = ",".join("?" * len(values))
        statement = f"{sql} IN ({marks})"
        return self.session.connection().exec_driver_sql(statement, tuple(values))

    def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self.session.connection().exec_driver_sql(sql, rows)

    def existing(self, keys: Sequence[str]) -> dict[str, Existing]:
        rows = self._where_in(
            "SELECT email_key, id, name, status FROM subscribers WHERE email_key", keys
        )
        return {key: Existing(sid, name, status) for key, sid, name, status in rows}

    def topics_of(self, ids: Sequence[int]) -> dict[int, set[str]]:
        rows = self._where_in(
            "SELECT subscriber_id, topic_slug FROM subscriber_topics WHERE subscriber_id", ids
        )
        found: dict[int, set[str]] = {}
        for subscriber_id, slug in rows:
            found.setdefault(subscriber_id, set()).add(slug)
        return found

    def suppressed(self, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        rows = self._where_in("SELECT email_key, reason FROM suppressions WHERE email_key", keys)
        return {key: reason for key, reason in rows}

    def insert(self, rows: Sequence[NewSubscriber]) -> dict[str, int]:
        self._many(
            "INSERT INTO subscribers"
            " (email, email_key, name, status, secret, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (email_key) DO NOTHING",
            [(r.email, r.key, r.name, r.status, r.secret, self.now, self.now) for r in rows],
        )
        # executemany cannot return rows; our own rows are the ones holding our secrets.
        ours = {r.key: r.secret for r in rows}
        stored = self._where_in(
            "SELECT email_key, id, secret FROM subscribers WHERE email_key", list(ours)
        )
        return {key: sid for key, sid, secret in stored if ours[key] == secret}

    def update(self, changes: Sequence[Change]) -> None:
        self._many(
            "UPDATE subscribers SET name = ?, status = ?, updated_at = ? WHERE id = ?",
            [(c.name, c.status, self.now, c.id) for c in changes],
        )

    def link(self, pairs: Iterable[tuple[int, str]], *, replace: Sequence[int] = ()) -> None:
        if replace:
            self._where_in("DELETE FROM subscriber_topics WHERE subscriber_id", replace)
        self._many(
            "INSERT INTO subscriber_topics (subscriber_id, topic_slug) VALUES (?, ?)", list(pairs)
        )


class PostgresBulkWriter:
    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now

    def _rows(self, sql: str, params: dict[str, Any]) -> list[Any]:
        return list(self.session.connection().exec_driver_sql(sql, params))

    def _run(self, sql: str, params: dict[str, Any]) -> None:
        self.session.connection().exec_driver_sql(sql, params)

    def existing(self, keys: Sequence[str]) -> dict[str, Existing]:
        rows = self._rows(
            "SELECT email_key, id, name, status FROM subscribers"
            " WHERE email_key = ANY(%(keys)b::text[])",
            {"keys": list(keys)},
        )
        return {key: Existing(sid, name, status) for key, sid, name, status in rows}

    def topics_of(self, ids: Sequence[int]) -> dict[int, set[str]]:
        rows = self._rows(
            "SELECT subscriber_id, topic_slug FROM subscriber_topics"
            " WHERE subscriber_id = ANY(%(ids)b::bigint[])",
            {"ids": list(ids)},
        )
        found: dict[int, set[str]] = {}
        for subscriber_id, slug in rows:
            found.setdefault(subscriber_id, set()).add(slug)
        return found

    def suppressed(self, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        rows = self._rows(
            "SELECT email_key, reason FROM suppressions WHERE email_key = ANY(%(keys)b::text[])",
            {"keys": list(keys)},
        )
        return {key: reason for key, reason in rows}

    def insert(self, rows: Sequence[NewSubscriber]) -> dict[str, int]:
        inserted = self._rows(
            "INSERT INTO subscribers"
            " (email, email_key, name, status, secret, created_at, updated_at)"
            " SELECT r.email, r.email_key, r.name, r.status, r.secret, %(now)s, %(now)s"
            " FROM unnest(%(email)b::text[], %(key)b::text[], %(name)b::text[],"
            " %(status)b::text[], %(secret)b::text[]) AS r(email, email_key, name, status, secret)"
            " ON CONFLICT (email_key) DO NOTHING RETURNING email_key, id",
            {
                "email": [r.email for r in rows],
                "key": [r.key for r in rows],
                "name": [r.name for r in rows],
                "status": [r.status for r in rows],
                "secret": [r.secret for r in rows],
                "now": self.now,
            },
        )
        return {key: sid for key, sid in inserted}

    def update(self, changes: Sequence[Change]) -> None:
        self._run(
            "UPDATE subscribers AS s SET name = r.name, status = r.status, updated_at = %(now)s"
            " FROM unnest(%(id)b::bigint[], %(name)b::text[], %(status)b::text[])"
            " AS r(id, name, status) WHERE s.id = r.id",
            {
                "id": [c.id for c in changes],
                "name": [c.name for c in changes],
                "status": [c.status for c in changes],
                "now": self.now,
            },
        )

    def link(self, pairs: Iterable[tuple[int, str]], *, replace: Sequence[int] = ()) -> None:
        if replace:
            self._run(
                "DELETE FROM subscriber_topics WHERE subscriber_id = ANY(%(ids)b::bigint[])",
                {"ids": list(replace)},
            )
        pairs = list(pairs)
        if pairs:
            self._run(
                "INSERT INTO subscriber_topics (subscriber_id, topic_slug)"
                " SELECT * FROM unnest(%(ids)b::bigint[], %(slugs)b::text[])",
                {"ids": [sid for sid, _ in pairs], "slugs": [slug for _, slug in pairs]},
            )
