"""Recording clicks off the request path.

A redirect must answer at once, whatever the database is doing; measured here, even
one awaited Redis write per click cost more than half the redirect rate. So the
redirect only appends a `RawClick` to an in-process buffer (`ClickRecorder.record`,
no I/O), and a background task flushes the buffer in batches every ~100 ms, or as
soon as a batch is full, into a sink:

- `DatabaseSink` classifies and inserts a batch in one transaction (`store_clicks`);
- `RedisStreamSink` XADDs a batch in one pipelined round trip to a Redis stream, and
  `drain_stream` (run by the web app beside it, and callable from a worker) moves
  stream entries into the database in batches, acknowledging them only after commit.

A failed flush puts the batch back and retries with back-off, so a database that is
briefly down delays clicks instead of losing them; the app flushes once more on a
graceful shutdown. Every click carries a random `event_key`, unique in the table, so a
batch written twice (a retry after a timeout, a stream entry drained twice) is stored
once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import redis
import redis.asyncio
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from briefmail import clock
from briefmail.db.models import Batch, Click, Delivery
from briefmail.tracking import classifier
from briefmail.tracking.classifier import Reason, RequestFacts
from briefmail.tracking.inserts import insert_new

log = logging.getLogger(__name__)

STREAM = "briefmail:clicks"
GROUP = "briefmail-clicks"
_CHUNK = 500  # ids per IN (...) list
_UA_MAX = 512


def new_event_key() -> str:
    return os.urandom(16).hex()


@dataclass(frozen=True, slots=True)
class RawClick:
    """A click as the redirect saw it, before classification."""

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


# --------------------------------------------------------------------------- storing


def store_clicks(session: Session, clicks: Sequence[RawClick], *, window_seconds: int) -> int:
    """Classify `clicks` and insert them; returns how many were new.

    Also marks earlier stored clicks of the same recipient that, with these, form a
    burst (a burst can straddle two flushes).
    """
    unique = list({c.event_key: c for c in clicks}.values())
    if not unique:
        return 0
    reasons: list[Reason | None] = [classifier.request_reason(c.facts()) for c in unique]

    accepted = _accepted_at(session, [c for c, r in zip(unique, reasons, strict=True) if not r])
    for i, click in enumerate(unique):
        if reasons[i] is None and classifier.in_window(
            click.clicked_at, accepted.get((click.send_id, click.subscriber_id)), window_seconds
        ):
            reasons[i] = Reason.WINDOW

    earlier_burst = _apply_bursts(session, unique, reasons)
    if earlier_burst:
        for chunk in _chunks(sorted(earlier_burst)):
            session.execute(
                update(Click)
                .where(Click.id.in_(chunk), Click.automated.is_(False))
                .values(automated=True, reason=Reason.BURST.value)
            )

    rows = [
        {
            "event_key": c.event_key,
            "send_id": c.send_id,
            "link_id": c.link_id,
            "subscriber_id": c.subscriber_id,
            "clicked_at": c.clicked_at,
            "method": c.method[:10],
            "ip": (c.ip or None) and c.ip[:64],
            "user_agent": c.user_agent[:_UA_MAX] or None,
            "automated": reason is not None,
            "reason": reason.value if reason else None,
        }
        for c, reason in zip(unique, reasons, strict=True)
    ]
    return len(insert_new(session, Click, rows, key="event_key", returning=Click.id))


def _accepted_at(
    session: Session, clicks: Sequence[RawClick]
) -> dict[tuple[int, int | None], datetime]:
    """When the batch of each (send, subscriber) was accepted by the provider."""
    wanted = {(c.send_id, c.subscriber_id) for c in clicks if c.subscriber_id is not None}
    found: dict[tuple[int, int | None], datetime] = {}
    if not wanted:
        return found
    send_ids = sorted({s for s, _ in wanted})
    subscriber_ids = sorted({r for _, r in wanted if r is not None})
    accepted = func.coalesce(Batch.accepted_at, Delivery.accepted_at)
    for chunk in _chunks(subscriber_ids):
        rows = session.execute(
            select(Delivery.send_id, Delivery.subscriber_id, accepted)
            .outerjoin(Batch, Delivery.batch_id == Batch.id)
            .where(Delivery.send_id.in_(send_ids), Delivery.subscriber_id.in_(chunk))
        )
        for send_id, subscriber_id, at in rows:
            if at is not None and (send_id, subscriber_id) in wanted:
                found[(send_id, subscriber_id)] = clock.as_utc(at)
    return found


def _apply_bursts(
    session: Session, clicks: Sequence[RawClick], reasons: list[Reason | None]
) -> set[int]:
    """Set BURST on new clicks in a burst; return ids of stored human clicks in one."""
    recipients = [c for c in clicks if c.subscriber_id is not None]
    if not recipients:
        return set()
    span = timedelta(seconds=classifier.BURST_SECONDS)
    low = min(c.clicked_at for c in recipients) - span
    high = max(c.clicked_at for c in recipients) + span
    series: list[tuple[tuple[str, int], Any, int, datetime]] = [
        (("new", i), (c.send_id, c.subscriber_id), c.link_id, c.clicked_at)
        for i, c in enumerate(clicks)
        if c.subscriber_id is not None
    ]
    human_before: set[int] = set()
    event_keys = {c.event_key for c in clicks}
    for chunk in _chunks(sorted({c.subscriber_id for c in recipients if c.subscriber_id})):
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
                Click.subscriber_id.in_(chunk),
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


def _chunks(values: Sequence[int]) -> list[Sequence[int]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


# --------------------------------------------------------------------------- sinks


class ClickSink(Protocol):
    async def write(self, clicks: Sequence[RawClick]) -> None:
        """Persist `clicks` or raise; a raise means none may be assumed persisted."""


class DatabaseSink:
    """Classify and insert each batch straight into the database."""

    def __init__(self, sessions: sessionmaker[Session], *, window_seconds: int) -> None:
        self.sessions = sessions
        self.window_seconds = window_seconds

    async def write(self, clicks: Sequence[RawClick]) -> None:
        await asyncio.to_thread(self.write_sync, clicks)

    def write_sync(self, clicks: Sequence[RawClick]) -> int:
        with self.sessions.begin() as session:
            return store_clicks(session, clicks, window_seconds=self.window_seconds)


class RedisStreamSink:
    """XADD each batch to the click stream in one pipelined round trip."""

    def __init__(self, client: redis.asyncio.Redis[bytes], *, stream: str = STREAM) -> None:
        self.client = client
        self.stream = stream

    async def write(self, clicks: Sequence[RawClick]) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            for click in clicks:
                pipe.xadd(self.stream, click.to_fields())  # type: ignore[arg-type,unused-ignore]
            await pipe.execute()


# --------------------------------------------------------------------------- buffer


@dataclass(frozen=True, slots=True)
class RecorderStatus:
    buffered: int
    written: int
    dropped: int
    failures: int
    last_error: str | None


class ClickRecorder:
    """An in-process click buffer flushed to a sink by one background task.

    `record` is the only call on the request path: an append, no I/O. The buffer is
    bounded (`max_buffered`); when a long outage fills it, the oldest clicks are
    dropped and counted rather than letting the process run out of memory.
    """

    def __init__(
        self,
        sink: ClickSink,
        *,
        flush_interval: float = 0.1,
        batch_size: int = 2000,
        max_buffered: int = 500_000,
        max_backoff: float = 5.0,
    ) -> None:
        self.sink = sink
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.max_backoff = max_backoff
        self._buffer: deque[RawClick] = deque(maxlen=max_buffered)
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.written = 0
        self.dropped = 0
        self.failures = 0
        self.last_error: str | None = None

    def record(self, click: RawClick) -> None:
        buffer = self._buffer
        if len(buffer) == buffer.maxlen:
            self.dropped += 1
        buffer.append(click)
        if len(buffer) >= self.batch_size and self._wake is not None:
            self._wake.set()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def status(self) -> RecorderStatus:
        return RecorderStatus(
            self.buffered, self.written, self.dropped, self.failures, self.last_error
        )

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="click-recorder")

    async def stop(self, *, timeout: float = 30.0) -> None:
        """Stop the loop and flush what is left, retrying until `timeout`."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        deadline = asyncio.get_running_loop().time() + timeout
        delay = 0.05
        while self._buffer:
            if await self.flush_once():
                delay = 0.05
                continue
            if asyncio.get_running_loop().time() + delay > deadline:
                log.error("click recorder: %d clicks not stored at shutdown", len(self._buffer))
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)

    async def flush_once(self) -> bool:
        """Write one batch; on failure put it back at the front. True if it was written."""
        batch: list[RawClick] = []
        buffer = self._buffer
        while buffer and len(batch) < self.batch_size:
            batch.append(buffer.popleft())
        if not batch:
            return True
        try:
            await self.sink.write(batch)
        except Exception as exc:  # any failure: keep the clicks and retry later
            buffer.extendleft(reversed(batch))
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("click recorder: flush of %d failed: %s", len(batch), self.last_error)
            return False
        self.written += len(batch)
        self.last_error = None
        return True

    async def _run(self) -> None:
        assert self._wake is not None
        backoff = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.flush_interval + backoff)
            self._wake.clear()
            if self._stopping:
                return
            while self._buffer and not self._stopping:
                if not await self.flush_once():
                    backoff = min(max(backoff * 2, 0.1), self.max_backoff)
                    break
                backoff = 0.0


# --------------------------------------------------------------------------- stream


def ensure_group(client: redis.Redis[bytes], *, stream: str = STREAM, group: str = GROUP) -> None:
    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def drain_stream(
    client: redis.Redis[bytes],
    sessions: sessionmaker[Session],
    *,
    window_seconds: int,
    consumer: str,
    count: int = 2000,
    block_ms: int | None = None,
    claim_idle_ms: int = 30_000,
    stream: str = STREAM,
    group: str = GROUP,
) -> int:
    """Move up to `count` stream entries into the database; returns how many settled.

    Entries are acknowledged and deleted only after the insert committed, so a crash
    or a database outage leaves them pending for this consumer (read again first) or,
    once idle for `claim_idle_ms`, for any other consumer to claim.
    """
    try:
        entries = _next_entries(client, consumer, count, block_ms, claim_idle_ms, stream, group)
    except redis.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        ensure_group(client, stream=stream, group=group)
        return 0
    if not entries:
        return 0
    clicks: list[RawClick] = []
    for _entry_id, fields in entries:
        if not fields:
            continue  # deleted after a previous acknowledgement raced
        try:
            clicks.append(RawClick.from_fields(fields))
        except (KeyError, ValueError):
            log.error("click stream: dropping malformed entry %r", _entry_id)
    if clicks:
        with sessions.begin() as session:
            store_clicks(session, clicks, window_seconds=window_seconds)
    ids = [entry_id for entry_id, _ in entries]
    pipe = client.pipeline(transaction=False)
    pipe.xack(stream, group, *ids)
    pipe.xdel(stream, *ids)
    pipe.execute()
    return len(ids)


def _next_entries(
    client: redis.Redis[bytes],
    consumer: str,
    count: int,
    block_ms: int | None,
    claim_idle_ms: int,
    stream: str,
    group: str,
) -> list[tuple[Any, Any]]:
    # 1. our own pending entries (delivered before, not yet acknowledged)
    own = client.xreadgroup(group, consumer, {stream: "0"}, count=count)
    entries = _entries(own)
    if entries:
        return entries
    # 2. entries another consumer took and abandoned
    claimed = client.xautoclaim(stream, group, consumer, claim_idle_ms, "0-0", count=count)
    if claimed and len(claimed) > 1 and claimed[1]:
        return [(e[0], e[1]) for e in claimed[1]]
    # 3. new entries
    fresh = client.xreadgroup(group, consumer, {stream: ">"}, count=count, block=block_ms)
    return _entries(fresh)


def _entries(reply: Any) -> list[tuple[Any, Any]]:
    if not reply:
        return []
    return [(entry_id, fields) for _stream, items in reply for entry_id, fields in items]
