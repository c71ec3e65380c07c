"""Clicks: what the redirect saw (`RawClick`), and storing batches of them.

The redirect never writes a click itself: it hands a `RawClick` to the recorder
(`tracking.recorder`), which writes batches here (or through the Redis stream,
`tracking.clickstream`, which writes batches here too). Storing classifies each click
with the full history at hand: the rules that need only the request, the scanner
window after the batch was accepted, and bursts, which may straddle two batches (the
earlier clicks of a burst are re-marked when the later ones arrive).

Every click carries a random `event_key`, unique in the table, so a batch written
twice (a retry after a timeout, a stream entry drained twice) is stored once.
Batches arrive at redirect rates, so the insert is the bulk path of each database:
COPY into a temporary table then one INSERT ... ON CONFLICT on PostgreSQL, one
executemany of INSERT OR IGNORE on SQLite.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Table,
    any_,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session

from briefmail import clock
from briefmail.db.models import Batch, Click, Delivery
from briefmail.tracking import classifier
from briefmail.tracking.classifier import Reason, RequestFacts

_UA_MAX = 512
_COLUMNS = (
    "event_key", "send_id", "link_id", "subscriber_id", "clicked_at",
    "method", "ip", "user_agent", "automated", "reason",
)  # fmt: skip
_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS click_stage (event_key text, send_id bigint, "
    "link_id integer, subscriber_id bigint, clicked_at timestamptz, method text, ip text, "
    "user_agent text, automated boolean, reason text) ON COMMIT DELETE ROWS"
)

_MOVE_STAGED = (
    f"INSERT INTO clicks ({', '.join(_COLUMNS)}) SELECT {', '.join(_COLUMNS)} "  # noqa: S608
    "FROM click_stage ON CONFLICT (event_key) DO NOTHING"
)  # constant column names only

# Unique without a system call per click: a random per-process prefix and a counter.
_KEY_PREFIX = os.urandom(8).hex()
_key_counter = itertools.count()


def new_event_key() -> str:
    return f"{_KEY_PREFIX}{next(_key_counter):x}"


class RawClick(NamedTuple):
    """A click as the redirect saw it, before classification (a tuple: cheap to make)."""

    event_key: str
    send_id: int
    link_id: int
    subscriber_id: int | None
    clicked_at: datetime
    method: str
    ip: str | None
    user_agent: str
    purpose: str  # prefetch hint headers, joined and lower-cased

    def facts(self) -> RequestFacts:
        return RequestFacts(self.method, self.user_agent, self.ip, self.purpose, self.link_id)

    def to_fields(self) -> dict[str, str]:
        """Flat string fields for a Redis stream entry."""
        return {
            "k": self.event_key,
            "s": str(self.send_id),
            "l": str(self.link_id),
            "r": "" if self.subscriber_id is None else str(self.subscriber_id),
            "t": self.clicked_at.isoformat(),
            "m": self.method,
            "i": self.ip or "",
            "u": self.user_agent,
            "p": self.purpose,
        }

    @classmethod
    def from_fields(cls, fields: Mapping[Any, Any]) -> RawClick:
        """Inverse of `to_fields`; raises ValueError/KeyError on a malformed entry."""
        f = {_text(k): _text(v) for k, v in fields.items()}
        return cls(
            event_key=f["k"],
            send_id=int(f["s"]),
            link_id=int(f["l"]),
            subscriber_id=int(f["r"]) if f["r"] else None,
            clicked_at=clock.as_utc(datetime.fromisoformat(f["t"])),
            method=f["m"],
            ip=f["i"] or None,
            user_agent=f["u"],
            purpose=f["p"],
        )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ClickStore:
    """Classifies and inserts batches of clicks.

    Remembers when each recipient's batch was accepted once it has looked it up (a
    batch accepted stays accepted), so a busy store asks the database only about
    recipients it has not seen.
    """

    def __init__(self, *, window_seconds: int, max_remembered: int = 1_000_000) -> None:
        self.window_seconds = window_seconds
        self.max_remembered = max_remembered
        self._accepted: dict[tuple[int, int], datetime] = {}

    def store(self, session: Session, clicks: Sequence[RawClick]) -> int:
        """Classify `clicks` and insert them; returns how many were new."""
        unique = list({c.event_key: c for c in clicks}.values())
        if not unique:
            return 0
        reasons: list[Reason | None] = [classifier.request_reason(c.facts()) for c in unique]
        candidates = [c for c, r in zip(unique, reasons, strict=True) if r is None]
        accepted = self._accepted_at(session, candidates)
        for i, click in enumerate(unique):
            if reasons[i] is None and click.subscriber_id is not None:
                at = accepted.get((click.send_id, click.subscriber_id))
                if classifier.in_window(click.clicked_at, at, self.window_seconds):
                    reasons[i] = Reason.WINDOW
        earlier_burst = _apply_bursts(session, unique, reasons)
        if earlier_burst:
            session.execute(
                update(Click)
                .where(_member_of(session, Click.id, sorted(earlier_burst)))
                .where(Click.automated.is_(False))
                .values(automated=True, reason=Reason.BURST.value)
            )
        rows = [
            (
                c.event_key, c.send_id, c.link_id, c.subscriber_id, c.clicked_at, c.method[:10],
                c.ip[:64] if c.ip else None, c.user_agent[:_UA_MAX] or None,
                reason is not None, reason.value if reason else None,
            )
            for c, reason in zip(unique, reasons, strict=True)
        ]  # fmt: skip
        return _insert(session, rows)

    def _accepted_at(
        self, session: Session, clicks: Sequence[RawClick]
    ) -> dict[tuple[int, int], datetime]:
        known = self._accepted
        wanted = {
            (c.send_id, c.subscriber_id)
            for c in clicks
            if c.subscriber_id is not None and (c.send_id, c.subscriber_id) not in known
        }
        if wanted:
            if len(known) + len(wanted) > self.max_remembered:
                known.clear()
            accepted_at = func.coalesce(Batch.accepted_at, Delivery.accepted_at)
            send_ids = sorted({s for s, _ in wanted})
            subscriber_ids = sorted({r for _, r in wanted})
            rows = session.execute(
                select(Delivery.send_id, Delivery.subscriber_id, accepted_at)
                .outerjoin(Batch, Delivery.batch_id == Batch.id)
                .where(
                    _member_of(session, Delivery.send_id, send_ids),
                    _member_of(session, Delivery.subscriber_id, subscriber_ids),
                )
            )
            for send_id, subscriber_id, at in rows:
                if at is not None and subscriber_id is not None:
                    known[(send_id, subscriber_id)] = clock.as_utc(at)
        return known


def store_clicks(session: Session, clicks: Sequence[RawClick], *, window_seconds: int) -> int:
    """Classify and insert one batch with a fresh `ClickStore`; returns how many were new."""
    return ClickStore(window_seconds=window_seconds).store(session, clicks)


def _apply_bursts(
    session: Session, clicks: Sequence[RawClick], reasons: list[Reason | None]
) -> set[int]:
    """Set BURST on new clicks in a burst; return ids of stored human clicks in one."""
    series: list[tuple[tuple[str, int], Any, int, datetime]] = [
        (("new", i), (c.send_id, c.subscriber_id), c.link_id, c.clicked_at)
        for i, c in enumerate(clicks)
        if c.subscriber_id is not None
    ]
    if not series:
        return set()
    span = timedelta(seconds=classifier.BURST_SECONDS)
    low = min(item[3] for item in series) - span
    high = max(item[3] for item in series) + span
    subscriber_ids = sorted({c.subscriber_id for c in clicks if c.subscriber_id is not None})
    event_keys = {c.event_key for c in clicks}
    human_before: set[int] = set()
    rows = session.execute(
        select(
            Click.id,
            Click.send_id,
            Click.subscriber_id,
            Click.link_id,
            Click.clicked_at,
            Click.automated,
            Click.event_key,
        ).where(
            _member_of(session, Click.subscriber_id, subscriber_ids),
            Click.clicked_at >= low,
            Click.clicked_at <= high,
        )
    )
    for click_id, send_id, subscriber_id, link_id, at, automated, key in rows:
        if key in event_keys:
            continue  # the same click drained twice
        series.append((("db", click_id), (send_id, subscriber_id), link_id, clock.as_utc(at)))
        if not automated:
            human_before.add(click_id)
    earlier: set[int] = set()
    for kind, index in classifier.burst_members(series):
        if kind == "new":
            if reasons[index] is None:
                reasons[index] = Reason.BURST
        elif index in human_before:
            earlier.add(index)
    return earlier


def _member_of(
    session: Session, column: InstrumentedAttribute[Any], values: Sequence[int]
) -> ColumnElement[bool]:
    """`column IN values`: one array parameter on PostgreSQL, literal ids on SQLite.

    Thousands of placeholders cost more to build and parse than the query itself.
    """
    if session.get_bind().dialect.name == "postgresql":
        array = bindparam(None, list(values), type_=ARRAY(BigInteger))
        return column == any_(array)
    return column.in_(bindparam(None, list(values), literal_execute=True, expanding=True))


def _insert(session: Session, rows: list[tuple[Any, ...]]) -> int:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor:
            cursor.execute(_STAGE)
            with cursor.copy(f"COPY click_stage ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(_MOVE_STAGED)
            inserted = int(cursor.rowcount)
            cursor.execute("TRUNCATE click_stage")
        return inserted
    table = Click.__table__
    assert isinstance(table, Table)
    result = connection.execute(
        insert(table).prefix_with("OR IGNORE"),
        [dict(zip(_COLUMNS, row, strict=True)) for row in rows],
    )
    return int(result.rowcount)
