"""Click storage: classification with history, idempotency, the buffer, the stream and
the writer process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import event, select, update

from briefmail.db.models import Batch, Click, Delivery
from briefmail.db.session import dispose_engines, get_engine, session_factory, session_scope
from briefmail.tracking.classifier import BURST_LINKS
from briefmail.tracking.clicks import RawClick, new_event_key
from briefmail.tracking.clickstore import ClickStore
from briefmail.tracking.clickstream import (
    STREAM,
    add_to_stream,
    drain_stream,
    ensure_group,
    hold_drain_lease,
    release_drain_lease,
)
from briefmail.tracking.recorder import ClickRecorder
from briefmail.tracking.writer import WriterProcessSink
from tests.conftest import PG_ADMIN_URL
from tests.tracking.factories import T0, build_world

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15) AppleWebKit/605.1.15 Safari/605.1.15"


def raw(world, subscriber: int, link_id: int, seconds: float, **kw) -> RawClick:
    fields = {
        "event_key": new_event_key(),
        "send_id": world.send_id,
        "link_id": link_id,
        "subscriber_id": subscriber,
        "clicked_at": (T0 + timedelta(seconds=seconds)).timestamp(),
        "method": "GET",
        "ip": "203.0.113.9",
        "user_agent": BROWSER,
        "purpose": "",
    }
    fields.update(kw)
    return RawClick(**fields)


def stored(url: str) -> dict[str, tuple[bool, str | None]]:
    with session_scope(url) as s:
        return {c.event_key: (c.automated, c.reason) for c in s.scalars(select(Click))}


def store(url: str, clicks: list[RawClick], window: int = 60) -> int:
    """Store one batch with a fresh `ClickStore` (no memory of earlier batches)."""
    return ClickStore(window_seconds=window).store(session_factory(url), clicks)


class StoreInThread:
    """A recorder's sink that stores in this process, in a worker thread."""

    def __init__(self, url: str) -> None:
        self.sessions = session_factory(url)
        self.store = ClickStore(window_seconds=60)

    async def write(self, clicks) -> None:
        await asyncio.to_thread(self.store.store, self.sessions, clicks)


def test_window_is_measured_from_batch_acceptance(db_url) -> None:
    world = build_world(db_url)
    sub = world.subscribers[0]
    early, late = raw(world, sub, 1, 20), raw(world, sub, 2, 3600)
    no_subscriber = raw(world, sub, 3, 5, subscriber_id=None)
    assert store(db_url, [early, late, no_subscriber]) == 3
    result = stored(db_url)
    assert result[early.event_key] == (True, "window")
    assert result[late.event_key] == (False, None)
    assert result[no_subscriber.event_key] == (False, None)  # a proof: no batch to measure from


def _settle_batch(
    url: str, world, *, status: str, updated_at, accepted_at=T0, delivery_accepted_at=None
) -> None:
    with session_scope(url) as s:
        s.execute(
            update(Batch)
            .where(Batch.id == world.batch_id)
            .values(status=status, updated_at=updated_at, accepted_at=accepted_at)
        )
        if delivery_accepted_at is not None:
            s.execute(
                update(Delivery)
                .where(Delivery.batch_id == world.batch_id)
                .values(accepted_at=delivery_accepted_at)
            )


def test_clicks_long_after_a_settled_send_skip_the_acceptance_lookup(db_url) -> None:
    world = build_world(db_url)
    _settle_batch(db_url, world, status="accepted", updated_at=T0)
    sub = world.subscribers[0]
    lookups: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        if "FROM deliveries" in statement:
            lookups.append(statement)

    engine = get_engine(db_url)
    event.listen(engine, "before_cursor_execute", count)
    try:
        store(db_url, [raw(world, sub, 1, 3 * 3600)])
        assert lookups == []  # the send settled hours before: nobody can be in the window
        early = raw(world, sub, 2, 20)
        store(db_url, [early])
        assert len(lookups) == 1
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert stored(db_url)[early.event_key] == (True, "window")


def test_a_send_with_an_open_batch_is_always_looked_up(db_url) -> None:
    """An `unknown` batch settled later by a provider event stamps its deliveries with
    the provider's time, after the batch's last write: the window must still apply."""
    world = build_world(db_url)
    processed = T0 + timedelta(minutes=30)
    _settle_batch(
        db_url,
        world,
        status="unknown",
        updated_at=T0,
        accepted_at=None,
        delivery_accepted_at=processed,
    )
    click = raw(world, world.subscribers[0], 1, 30 * 60 + 20)
    store(db_url, [click])
    assert stored(db_url)[click.event_key] == (True, "window")


def test_request_rules_are_applied_when_stored(db_url) -> None:
    world = build_world(db_url)
    sub = world.subscribers[0]
    cases = {
        "head": raw(world, sub, 1, 900, method="HEAD"),
        "prefetch": raw(world, sub, 1, 1000, purpose="prefetch"),
        "scanner-ua": raw(world, sub, 1, 1100, user_agent="Mimecast URL protect"),
        "network": raw(world, sub, 1, 1200, ip="104.47.10.1"),
        "honeypot": raw(world, sub, 0, 1300),
    }
    store(db_url, list(cases.values()))
    result = stored(db_url)
    for reason, click in cases.items():
        assert result[click.event_key] == (True, reason)


def test_burst_across_two_flushes_marks_the_earlier_clicks_too(db_url) -> None:
    world = build_world(db_url)
    sessions = session_factory(db_url)
    sub, other = world.subscribers[0], world.subscribers[1]
    store = ClickStore(window_seconds=60)
    first = [raw(world, sub, 1, 600.0), raw(world, sub, 2, 600.5)]
    bystander = raw(world, other, 1, 600.2)
    store.store(sessions, [*first, bystander])
    assert set(stored(db_url).values()) == {(False, None)}
    third = raw(world, sub, 3, 601.4)
    store.store(sessions, [third])
    result = stored(db_url)
    for click in (*first, third):
        assert result[click.event_key] == (True, "burst")
    assert result[bystander.event_key] == (False, None)
    # Long after, the same recipient reading on is a person again.
    later = [raw(world, sub, 1, 700.0), raw(world, sub, 2, 700.1)]
    store.store(sessions, later)
    assert {stored(db_url)[c.event_key] for c in later} == {(False, None)}


class CommitFails:
    """Sessions whose transaction is lost at the commit, after every statement ran."""

    def __init__(self, url: str) -> None:
        self.sessions = session_factory(url)

    @contextlib.contextmanager
    def begin(self):
        with self.sessions() as session:
            yield session
            session.rollback()
            raise ConnectionError("connection lost at commit")


def test_a_batch_whose_commit_failed_is_judged_the_same_when_retried(db_url) -> None:
    world = build_world(db_url)
    sessions = session_factory(db_url)
    sub = world.subscribers[0]
    store = ClickStore(window_seconds=60)
    first = [raw(world, sub, 1, 600.0), raw(world, sub, 2, 600.5)]
    store.store(sessions, first)
    third = raw(world, sub, 3, 601.4)
    with pytest.raises(ConnectionError):
        store.store(CommitFails(db_url), [third])  # type: ignore[arg-type]
    assert set(stored(db_url).values()) == {(False, None)}  # nothing re-marked or added
    store.store(sessions, [third])
    assert set(stored(db_url).values()) == {(True, "burst")}
    assert len(stored(db_url)) == 3


@pytest.mark.parametrize("batch", [10_000, 1000, 7], ids=["one-batch", "batches", "tiny"])
def test_a_flood_on_one_link_is_judged_the_same_however_it_is_batched(db_url, batch) -> None:
    """The burst memory holds the latest click per link: a recipient hammering one link
    is remembered as one click, and the burst the other links then make marks that
    click and theirs, wherever the batches were cut."""
    world = build_world(db_url)
    sub = world.subscribers[0]
    flood = [raw(world, sub, 1, 600.0 + i * 0.0005) for i in range(3000)]
    clicks = [*flood, raw(world, sub, 2, 601.6), raw(world, sub, 3, 601.9)]
    store = ClickStore(window_seconds=60)
    sessions = session_factory(db_url)
    for start in range(0, len(clicks), batch):
        store.store(sessions, clicks[start : start + batch])
    result = stored(db_url)
    assert len(result) == len(clicks)
    automated = {key: reason for key, (flag, reason) in result.items() if flag}
    assert automated == {click.event_key: "burst" for click in clicks[-BURST_LINKS:]}


def test_storing_the_same_clicks_twice_stores_them_once(db_url) -> None:
    world = build_world(db_url)
    batch = [raw(world, world.subscribers[0], 1, 900 + i * 30) for i in range(3)]
    assert store(db_url, batch) == 3
    assert store(db_url, batch + batch) == 0
    assert len(stored(db_url)) == 3


def test_a_batch_partly_stored_before_adds_only_the_new_clicks(db_url) -> None:
    """The fast path (COPY straight into the table) fails on the old keys; the fallback
    must still store the new ones, in the same transaction, and count only those."""
    world = build_world(db_url)
    old = [raw(world, world.subscribers[0], 1, 900 + i * 30) for i in range(3)]
    new = [raw(world, world.subscribers[1], 2, 900 + i * 30) for i in range(4)]
    assert store(db_url, old) == 3
    assert store(db_url, [*new[:2], *old, *new[2:]]) == 4
    assert set(stored(db_url)) == {c.event_key for c in old + new}


class FlakySink:
    """Fails the first `failures` writes, then stores in the database."""

    def __init__(self, inner: StoreInThread, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.calls = 0

    async def write(self, clicks) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("database is down")
        await self.inner.write(clicks)


def test_recorder_keeps_clicks_through_failed_flushes(db_url) -> None:
    world = build_world(db_url)
    sink = FlakySink(StoreInThread(db_url), failures=3)
    recorder = ClickRecorder(sink, flush_interval=0.01, batch_size=4, max_backoff=0.05)
    made = [raw(world, world.subscribers[i % 3], 1 + i % 3, 900 + i * 10) for i in range(10)]

    async def run() -> None:
        await recorder.start()
        for click in made:
            recorder.record(click)
        while recorder.buffered or sink.calls <= 3:
            await asyncio.sleep(0.01)
        await recorder.stop()

    asyncio.run(run())
    assert recorder.failures == 3
    assert recorder.written == 10
    assert set(stored(db_url)) == {c.event_key for c in made}


def test_recorder_flushes_everything_on_stop(db_url) -> None:
    world = build_world(db_url)
    recorder = ClickRecorder(StoreInThread(db_url), flush_interval=3600)
    made = [raw(world, world.subscribers[0], 1, 900 + i * 10) for i in range(25)]

    async def run() -> None:
        await recorder.start()
        for click in made:
            recorder.record(click)
        await recorder.stop()  # the interval never elapsed: stop alone must write them

    asyncio.run(run())
    assert len(stored(db_url)) == 25


def test_full_batches_go_at_once_and_a_remainder_waits_for_the_tick() -> None:
    """Under load, flushing every remainder at once made batches of a few hundred clicks
    whose per-batch cost outweighed the per-click one."""

    class Sizes:
        def __init__(self) -> None:
            self.batches: list[int] = []

        async def write(self, clicks) -> None:
            self.batches.append(len(clicks))

    async def scenario() -> tuple[list[int], int]:
        sink = Sizes()
        recorder = ClickRecorder(sink, flush_interval=3600, batch_size=4)
        await recorder.start()
        for i in range(10):
            recorder.record(RawClick(str(i), 1, 1, 1, T0.timestamp(), "GET", None, "", ""))
        for _ in range(50):
            await asyncio.sleep(0.01)
        left = recorder.buffered
        await recorder.stop()
        return sink.batches, left

    batches, left = asyncio.run(scenario())
    assert batches[:2] == [4, 4]
    assert left == 2  # waited for the next tick instead of going as a batch of 2
    assert batches[2:] == [2]  # and went on the graceful stop


def test_bounded_buffer_counts_what_it_drops() -> None:
    class Never:
        async def write(self, clicks) -> None:
            raise ConnectionError

    recorder = ClickRecorder(Never(), max_buffered=5)
    for i in range(8):
        recorder.record(RawClick(str(i), 1, 1, 1, T0.timestamp(), "GET", None, "", ""))
    assert recorder.buffered == 5
    assert recorder.dropped == 3


def test_clicks_wait_while_the_sqlite_file_is_gone_and_land_when_it_is_back(
    tmp_path: Path, monkeypatch
) -> None:
    """The database vanishes under a running recorder; clicks wait and land after."""
    url = f"sqlite:///{tmp_path / 'clicks.db'}"
    world = build_world(url)
    engine = get_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    sink = StoreInThread(url)
    recorder = ClickRecorder(sink, flush_interval=0.01, max_backoff=0.05)
    made = [raw(world, world.subscribers[0], 1, 900 + i * 10) for i in range(3)]
    db_file, away = tmp_path / "clicks.db", tmp_path / "away.db"

    async def run() -> None:
        await recorder.start()
        engine.dispose()
        os.rename(db_file, away)
        for suffix in ("-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)
        for click in made:
            recorder.record(click)
        while recorder.failures < 2:
            await asyncio.sleep(0.01)
        assert recorder.buffered == 3  # nothing lost, nothing written
        await asyncio.to_thread(engine.dispose)
        await asyncio.sleep(0.05)
        for stray in tmp_path.glob("clicks.db*"):
            stray.unlink()  # the empty file a failed connection created
        shutil.move(away, db_file)
        await asyncio.to_thread(engine.dispose)
        while recorder.buffered:
            await asyncio.sleep(0.01)
        await recorder.stop()

    asyncio.run(run())
    dispose_engines()
    assert set(stored(url)) == {c.event_key for c in made}


def test_a_batch_is_one_stream_entry_and_drains_into_the_database(db_url, redis_url) -> None:
    world = build_world(db_url)
    made = [raw(world, world.subscribers[i], 1, 900 + i) for i in range(3)]
    client = redis.Redis.from_url(redis_url)
    ensure_group(client)
    add_to_stream(client, made)
    assert client.xlen(STREAM) == 1  # one entry per batch
    sessions = session_factory(db_url)
    assert drain_stream(client, sessions, window_seconds=60, consumer="t1") == 1
    assert set(stored(db_url)) == {c.event_key for c in made}
    assert client.xlen(STREAM) == 0
    assert drain_stream(client, sessions, window_seconds=60, consumer="t1") == 0
    client.close()


def test_malformed_stream_entries_are_dropped_without_blocking_the_rest(db_url, redis_url) -> None:
    world = build_world(db_url)
    made = [raw(world, world.subscribers[1], 2, 900 + i) for i in range(2)]
    client = redis.Redis.from_url(redis_url)
    ensure_group(client)
    client.xadd(STREAM, {"b": b'[["short row"]]'})
    add_to_stream(client, made)
    client.xadd(STREAM, {"b": b"not json"})
    client.xadd(STREAM, {"k": b"a field this stream never had"})
    sessions = session_factory(db_url)
    assert drain_stream(client, sessions, window_seconds=60, consumer="t1") == 4
    assert set(stored(db_url)) == {c.event_key for c in made}
    assert client.xlen(STREAM) == 0
    client.close()


def test_stream_entries_survive_a_failed_drain(db_url, redis_url) -> None:
    world = build_world(db_url)
    click = raw(world, world.subscribers[0], 1, 900)
    client = redis.Redis.from_url(redis_url)
    ensure_group(client)
    add_to_stream(client, [click])

    class Broken:
        def begin(self):
            raise ConnectionError("database is down")

    with pytest.raises(ConnectionError):
        drain_stream(client, Broken(), window_seconds=60, consumer="t1")  # type: ignore[arg-type]
    assert client.xlen(STREAM) == 1  # still there, pending for t1
    # Another consumer takes over once the entry has been idle long enough.
    sessions = session_factory(db_url)
    assert drain_stream(client, sessions, window_seconds=60, consumer="t2", claim_idle_ms=0) == 1
    assert set(stored(db_url)) == {click.event_key}
    assert client.xlen(STREAM) == 0
    client.close()


def test_one_drainer_at_a_time(redis_url) -> None:
    client = redis.Redis.from_url(redis_url)
    assert hold_drain_lease(client, "web-1")
    assert hold_drain_lease(client, "web-1")  # renewing
    assert not hold_drain_lease(client, "web-2")
    release_drain_lease(client, "web-2")  # not theirs: nothing happens
    assert not hold_drain_lease(client, "web-2")
    release_drain_lease(client, "web-1")
    assert hold_drain_lease(client, "web-2")
    client.close()


def test_writer_process_stores_batches_and_survives_its_own_death(db_url) -> None:
    world = build_world(db_url)
    sink = WriterProcessSink(db_url, window_seconds=60)
    first = [raw(world, world.subscribers[0], 1, 900 + i * 10) for i in range(3)]
    second = [raw(world, world.subscribers[1], 2, 900 + i * 10) for i in range(3)]

    async def life() -> None:
        try:
            await sink.write(first)
            dead = sink.process
            assert dead is not None
            dead.kill()  # the writer dies between batches
            await asyncio.to_thread(dead.join)
            await sink.write(second)  # a new writer is started for the next one
            assert sink.process is not None
            assert sink.process.pid != dead.pid
        finally:
            await sink.close()

    asyncio.run(life())
    assert set(stored(db_url)) == {c.event_key for c in first + second}


def test_writer_process_reports_database_errors() -> None:
    missing = PG_ADMIN_URL.rsplit("/", 1)[0] + "/briefmail_no_such_database"
    sink = WriterProcessSink(missing, window_seconds=60)
    click = RawClick(new_event_key(), 1, 1, 1, T0.timestamp(), "GET", None, "", "")

    async def life() -> None:
        try:
            with pytest.raises(RuntimeError, match="briefmail_no_such_database"):
                await sink.write([click])
        finally:
            await sink.close()

    asyncio.run(life())
