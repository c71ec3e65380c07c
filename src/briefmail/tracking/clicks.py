"""Clicks: what the redirect saw (`RawClick`), and storing batches of them.

The redirect never writes a click itself: it hands a `RawClick` to the recorder
(`tracking.recorder`), which writes batches here (or through the Redis stream,
`tracking.clickstream`, which writes batches here too). Storing classifies each click
with the full history at hand: the rules that need only the request, the scanner
window after the batch was accepted, and bursts, which may straddle two batches (the
earlier clicks of a burst are re-marked when the later ones arrive; `ClickStore`
remembers the last seconds of clicks for that, so no history query is needed).

Every click carries a random `event_key`, unique in the table, so a batch written
twice (a retry after a timeout, a stream entry drained twice) is stored once.
Batches arrive at redirect rates, so the insert is the bulk path of each database:
COPY into a temporary table then one INSERT ... ON CONFLICT on PostgreSQL, one
executemany of INSERT OR IGNORE on SQLite.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
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
from sqlalchemy.types import Text, TypeEngine

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


# A remembered click: (clicked_at, link_id, event_key, human). A plain tuple, not a
# NamedTuple: the collector stops tracking exact tuples of atoms, not subclasses.
_Seen = tuple[datetime, int, str, bool]


class ClickStore:
    """Classifies and inserts batches of clicks; one store sees every click, in order.

    It remembers the last few seconds of clicks it stored, per recipient, to find
    bursts that straddle two batches without asking the database, and when each
    recipient's batch was accepted once it has looked it up (a batch accepted stays
    accepted). Both rely on one store seeing every click of the deployment: the one
    web process, or the one drainer of the Redis stream (`clickstream` holds a lock
    so only one drains at a time). `briefmail web --workers N` therefore needs Redis.
    """

    def __init__(self, *, window_seconds: int, max_remembered: int = 1_000_000) -> None:
        self.window_seconds = window_seconds
        self.max_remembered = max_remembered
        # Keyed by `_recipient(send_id, subscriber_id)`, an int, and holding tuples only:
        # tens of thousands of small containers here made the cyclic garbage collector
        # stall the event loop for ~100 ms (measured); ints and tuples of atoms it skips.
        self._accepted: dict[int, datetime] = {}
        self._recent: dict[int, tuple[_Seen, ...]] = {}
        self._order: deque[tuple[datetime, int]] = deque()
        self._latest: datetime | None = None

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
                at = accepted.get(_recipient(click.send_id, click.subscriber_id))
                if classifier.in_window(click.clicked_at, at, self.window_seconds):
                    reasons[i] = Reason.WINDOW
        earlier_burst = self._bursts(unique, reasons)
        if earlier_burst:
            session.execute(
                update(Click)
                .where(_member_of(session, Click.event_key, sorted(earlier_burst), Text()))
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
        inserted = _insert(session, rows)
        self._remember(unique, reasons)
        return inserted

    def _bursts(self, clicks: Sequence[RawClick], reasons: list[Reason | None]) -> set[str]:
        """Mark new clicks in a burst; return event keys of remembered human ones in one."""
        batch: dict[int, list[tuple[datetime, int, int | str]]] = {}
        for i, c in enumerate(clicks):
            if c.subscriber_id is not None:
                recipient = _recipient(c.send_id, c.subscriber_id)
                batch.setdefault(recipient, []).append((c.clicked_at, c.link_id, i))
        batch_keys = {c.event_key for c in clicks}
        span = timedelta(seconds=classifier.BURST_SECONDS)
        earlier: set[str] = set()
        for recipient, series in batch.items():
            remembered = self._recent.get(recipient)
            humans: set[str] = set()
            if remembered:
                since = min(item[0] for item in series) - span
                for at, link_id, key, human in remembered:
                    if at >= since and key not in batch_keys:
                        series.append((at, link_id, key))
                        if human:
                            humans.add(key)
            elif len(series) < classifier.BURST_LINKS:
                continue  # too few clicks for a burst, whatever their links
            marked = classifier.recipient_burst(series)
            for member in marked:
                if isinstance(member, int):
                    if reasons[member] is None:
                        reasons[member] = Reason.BURST
                elif member in humans:
                    earlier.add(member)
            # The remembered clicks stay "human" here: this batch's transaction may yet
            # fail and be retried, and the retry must issue the update again. A later
            # batch repeating it finds nothing left to change (automated is false only).
        return earlier

    def _remember(self, clicks: Sequence[RawClick], reasons: Sequence[Reason | None]) -> None:
        """Keep the last few seconds of clicks per recipient for the next batch."""
        latest = max(c.clicked_at for c in clicks)
        if self._latest is None or latest > self._latest:
            self._latest = latest
        # A burst spans BURST_SECONDS; a little more covers batches that arrive late.
        cutoff = self._latest - timedelta(seconds=classifier.BURST_SECONDS + 1)
        recent, order = self._recent, self._order
        for click, reason in zip(clicks, reasons, strict=True):
            if click.subscriber_id is None or click.clicked_at < cutoff:
                continue
            recipient = _recipient(click.send_id, click.subscriber_id)
            seen = (click.clicked_at, click.link_id, click.event_key, reason is None)
            recent[recipient] = (*recent.get(recipient, ()), seen)
            order.append((click.clicked_at, recipient))
        # Forget in arrival order: each remembered click is looked at once more, here.
        while order and order[0][0] < cutoff:
            _, recipient = order.popleft()
            remembered = recent.get(recipient)
            if remembered is None:
                continue
            kept = tuple(s for s in remembered if s[0] >= cutoff)
            if kept:
                recent[recipient] = kept
            else:
                del recent[recipient]

    def _accepted_at(self, session: Session, clicks: Sequence[RawClick]) -> dict[int, datetime]:
        known = self._accepted
        wanted = {
            (c.send_id, c.subscriber_id)
            for c in clicks
            if c.subscriber_id is not None and _recipient(c.send_id, c.subscriber_id) not in known
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
                    known[_recipient(send_id, subscriber_id)] = clock.as_utc(at)
        return known


def _recipient(send_id: int, subscriber_id: int) -> int:
    """One int for (send, subscriber): subscriber ids stay below 2**40."""
    return (send_id << 40) | subscriber_id


def store_clicks(session: Session, clicks: Sequence[RawClick], *, window_seconds: int) -> int:
    """Classify and insert one batch with a fresh `ClickStore` (no memory of earlier ones)."""
    return ClickStore(window_seconds=window_seconds).store(session, clicks)


def _member_of(
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
