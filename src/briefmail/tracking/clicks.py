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
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Table,
    any_,
    bindparam,
    case,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.types import Text, TypeEngine

from briefmail import clock
from briefmail.db.models import OPEN_BATCH, Batch, Click, Delivery
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

# PostgreSQL types of `_COLUMNS`, for binary COPY.
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
    f"INSERT INTO clicks ({', '.join(_COLUMNS)}) SELECT {', '.join(_COLUMNS)} "  # noqa: S608
    "FROM click_stage ON CONFLICT (send_id, event_key) DO NOTHING"
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
    clicked_at: float  # POSIX seconds (`clock.timestamp()`)
    method: str
    ip: str | None
    user_agent: str
    purpose: str  # prefetch hint headers, joined and lower-cased

    @classmethod
    def from_row(cls, row: Any) -> RawClick:
        """A click from a JSON row in field order (the stream's packed batches, the spool)."""
        if not isinstance(row, list) or len(row) != len(cls._fields):
            raise ValueError(f"not a click row: {row!r:.80}")
        return cls._make(row)

    def facts(self) -> RequestFacts:
        return RequestFacts(self.method, self.user_agent, self.ip, self.purpose, self.link_id)

    def to_fields(self) -> dict[str, str]:
        """One click as a stream entry of flat strings, as earlier versions wrote them
        (the stream now carries packed batches; `from_fields` still reads these)."""
        return {
            "k": self.event_key,
            "s": str(self.send_id),
            "l": str(self.link_id),
            "r": "" if self.subscriber_id is None else str(self.subscriber_id),
            "t": repr(self.clicked_at),
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
            clicked_at=_seconds(f["t"]),
            method=f["m"],
            ip=f["i"] or None,
            user_agent=f["u"],
            purpose=f["p"],
        )


def _seconds(text: str) -> float:
    """A stream entry's time: POSIX seconds, or ISO 8601 as earlier versions queued it."""
    try:
        return float(text)
    except ValueError:
        return clock.as_utc(datetime.fromisoformat(text)).timestamp()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# A burst spans BURST_SECONDS; a little more covers batches that arrive late.
_MEMORY = classifier.BURST_SECONDS + 1
_MEMO_MAX = 100_000  # distinct (method, ip, user agent, hints) remembered
_SETTLED_SKEW = 300.0  # seconds; see `_quiet_after`
_UNKNOWN = object()

# A remembered click: (clicked_at, link_id, event_key, human). A plain tuple, not a
# NamedTuple: the collector stops tracking exact tuples of atoms, not subclasses.
_Seen = tuple[float, int, str, bool]


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
        self._accepted: dict[int, float] = {}
        self._request_memo: dict[tuple[str, str | None, str, str], Reason | None] = {}
        # The last seconds of clicks in two generations: `_recent` fills up, and when it
        # spans MEMORY_SECONDS it becomes `_older` and the previous `_older` is dropped
        # whole. No per-click bookkeeping to forget a click; lookups read both.
        self._recent: dict[int, tuple[_Seen, ...]] = {}
        self._older: dict[int, tuple[_Seen, ...]] = {}
        self._generation_start: float | None = None

    def store(self, session: Session, clicks: Sequence[RawClick]) -> int:
        """Classify `clicks` and insert them; returns how many were new.

        This runs once per click at redirect rates, so it is written for speed: one
        pass per step over plain lists, the request rules memoised per distinct
        request, and the burst check only for recipients seen more than once lately.
        """
        keys = {c.event_key for c in clicks}
        unique: Sequence[RawClick] = clicks
        if len(keys) < len(clicks):  # a batch stored twice at once: a replayed stream entry
            unique = list({c.event_key: c for c in clicks}.values())
        if not unique:
            return 0
        reasons = self._request_reasons(unique)
        recipients = [  # `_recipient`, inlined: this runs once per click
            None if c.subscriber_id is None else (c.send_id << 40) | c.subscriber_id for c in unique
        ]
        accepted = self._accepted_at(session, unique, recipients, reasons)
        if accepted:
            for i, recipient in enumerate(recipients):
                if reasons[i] is None and recipient is not None:
                    at = accepted.get(recipient)
                    if classifier.in_window(unique[i].clicked_at, at, self.window_seconds):
                        reasons[i] = Reason.WINDOW
        earlier_burst = self._bursts(unique, recipients, reasons, keys)
        if earlier_burst:
            sends = sorted({send_id for send_id, _ in earlier_burst})
            keys_marked = sorted(key for _, key in earlier_burst)
            session.execute(
                update(Click)
                .where(_member_of(session, Click.send_id, sends))  # the key's first column
                .where(_member_of(session, Click.event_key, keys_marked, Text()))
                .where(Click.automated.is_(False))
                .values(automated=True, reason=Reason.BURST.value)
            )
        rows = [
            (
                c.event_key, c.send_id, c.link_id, c.subscriber_id,
                datetime.fromtimestamp(c.clicked_at, UTC), c.method[:10],
                c.ip[:64] if c.ip else None, c.user_agent[:_UA_MAX] or None,
                reason is not None, reason.value if reason else None,
            )
            for c, reason in zip(unique, reasons, strict=True)
        ]  # fmt: skip
        inserted = _insert(session, rows)
        self._remember(unique, recipients, reasons)
        return inserted

    def _request_reasons(self, clicks: Sequence[RawClick]) -> list[Reason | None]:
        """The request rules for each click, memoised: a few kinds of request make most."""
        memo = self._request_memo
        if len(memo) > _MEMO_MAX:
            memo.clear()
        reasons: list[Reason | None] = []
        for c in clicks:
            if c.link_id == classifier.HONEYPOT_LINK_ID:
                reasons.append(Reason.HONEYPOT)
                continue
            request = c[5:]  # (method, ip, user_agent, purpose)
            reason = memo.get(request, _UNKNOWN)
            if reason is _UNKNOWN:
                reason = memo[request] = classifier.request_reason(c.facts())
            reasons.append(reason)  # type: ignore[arg-type]
        return reasons

    def _bursts(
        self,
        clicks: Sequence[RawClick],
        recipients: list[int | None],
        reasons: list[Reason | None],
        batch_keys: set[str],
    ) -> set[tuple[int, str]]:
        """Mark new clicks in a burst; return (send id, event key) of remembered human
        ones in one.

        Only a recipient with at least `BURST_LINKS` clicks between this batch and the
        last seconds remembered can be in a burst, so most clicks cost a dict lookup.
        """
        recent, older = self._recent, self._older
        first: dict[int, int] = {}
        groups: dict[int, list[int]] = {}
        for i, recipient in enumerate(recipients):
            if recipient is None:
                continue
            j = first.setdefault(recipient, i)
            if j != i:
                group = groups.get(recipient)
                if group is None:
                    groups[recipient] = [j, i]
                else:
                    group.append(i)
            elif recipient in recent or recipient in older:
                groups[recipient] = [i]
        span = classifier.BURST_SECONDS
        earlier: set[tuple[int, str]] = set()
        for recipient, indices in groups.items():
            remembered = older.get(recipient, ()) + recent.get(recipient, ())
            if len(indices) + len(remembered) < classifier.BURST_LINKS:
                continue
            series: list[tuple[float, int, int | str]] = [
                (clicks[i].clicked_at, clicks[i].link_id, i) for i in indices
            ]
            since = min(item[0] for item in series) - span
            humans: set[str] = set()
            for at, link_id, key, human in remembered:
                if at >= since and key not in batch_keys:
                    series.append((at, link_id, key))
                    if human:
                        humans.add(key)
            if len(series) < classifier.BURST_LINKS:
                continue
            for member in classifier.recipient_burst(series):
                if isinstance(member, int):
                    if reasons[member] is None:
                        reasons[member] = Reason.BURST
                elif member in humans:
                    earlier.add((recipient >> 40, member))  # the send: see `_recipient`
            # The remembered clicks stay "human" here: this batch's transaction may yet
            # fail and be retried, and the retry must issue the update again. A later
            # batch repeating it finds nothing left to change (automated is false only).
        return earlier

    def _remember(
        self,
        clicks: Sequence[RawClick],
        recipients: list[int | None],
        reasons: Sequence[Reason | None],
    ) -> None:
        """Keep the last few seconds of clicks per recipient for the next batch."""
        latest = max(c.clicked_at for c in clicks)
        start = self._generation_start
        if start is None or latest < start:
            start = self._generation_start = latest
        elif latest - start > _MEMORY:
            self._older, self._recent = self._recent, {}
            start = self._generation_start = latest
        # Clicks older than the generations (a late batch) cannot join a new burst.
        cutoff = start - _MEMORY
        recent = self._recent
        for click, recipient, reason in zip(clicks, recipients, reasons, strict=True):
            at = click.clicked_at
            if recipient is None or at < cutoff:
                continue
            seen = (at, click.link_id, click.event_key, reason is None)
            old = recent.get(recipient)
            recent[recipient] = (seen,) if old is None else (*old, seen)

    def _accepted_at(
        self,
        session: Session,
        clicks: Sequence[RawClick],
        recipients: list[int | None],
        reasons: list[Reason | None],
    ) -> dict[int, float]:
        """When each recipient's batch was accepted, for the clicks the window may catch.

        Most clicks come long after their send's last batch settled; then no click can
        be in the window and nobody's acceptance needs looking up (one small query on
        `batches` per call instead of one delivery lookup per new recipient).
        """
        known = self._accepted
        candidates = [
            i
            for i, (recipient, reason) in enumerate(zip(recipients, reasons, strict=True))
            if reason is None and recipient is not None and recipient not in known
        ]
        if not candidates or self.window_seconds <= 0:
            return known
        quiet = _quiet_after(session, {clicks[i].send_id for i in candidates}, self.window_seconds)
        wanted = set()
        for i in candidates:
            click = clicks[i]
            after = quiet.get(click.send_id)
            if after is None or click.clicked_at < after:
                wanted.add((click.send_id, click.subscriber_id))
        if wanted:
            if len(known) + len(wanted) > self.max_remembered:
                known.clear()
            accepted_at = func.coalesce(Batch.accepted_at, Delivery.accepted_at)
            send_ids = sorted({s for s, _ in wanted})
            subscriber_ids = sorted({r for _, r in wanted if r is not None})
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
                    known[_recipient(send_id, subscriber_id)] = clock.as_utc(at).timestamp()
        return known


def _quiet_after(session: Session, send_ids: set[int], window_seconds: int) -> dict[int, float]:
    """For each send whose batches are all settled: the time after which no click of it
    can be in the scanner window.

    A recipient's acceptance is recorded with its batch's last write (`updated_at`) or
    from a provider event stamped during that attempt; `_SETTLED_SKEW` covers the
    provider's clock and an attempt settled late. A send with a batch still open
    (pending, sending, unknown) may be accepted at any moment: no entry, look it up.
    """
    open_batches = func.sum(case((Batch.status.in_(OPEN_BATCH), 1), else_=0))
    rows = session.execute(
        select(Batch.send_id, func.max(Batch.updated_at), func.max(Batch.accepted_at))
        .where(_member_of(session, Batch.send_id, sorted(send_ids)))
        .group_by(Batch.send_id)
        .having(open_batches == 0)
    )
    margin = _SETTLED_SKEW + window_seconds
    quiet: dict[int, float] = {}
    for send_id, updated_at, accepted_at in rows:
        last = max(clock.as_utc(t).timestamp() for t in (updated_at, accepted_at) if t is not None)
        quiet[send_id] = last + margin
    return quiet


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
        assert isinstance(driver, psycopg.Connection)
        return _copy_into_clicks(driver, rows)
    table = Click.__table__
    assert isinstance(table, Table)
    result = connection.execute(
        insert(table).prefix_with("OR IGNORE"),
        [dict(zip(_COLUMNS, row, strict=True)) for row in rows],
    )
    return int(result.rowcount)


def _copy_into_clicks(driver: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> int:
    """Binary COPY straight into `clicks`; if a key is already there, insert the new ones.

    A batch is almost always new, and COPY into the table is the cheapest insert there
    is. A batch stored before (a retry after a lost reply, a stream entry drained twice)
    breaks the unique event key; then the batch goes through a staging table and
    INSERT ... ON CONFLICT DO NOTHING, inside a savepoint so the transaction lives on.
    """
    columns = ", ".join(_COLUMNS)
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
