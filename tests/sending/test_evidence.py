"""What stored events prove about a batch's attempts: found by column, in one query.

Events are stored the way the webhook stores them (`apply_events` over parsed
SendGrid events), so these tests also hold the storing side to filling the key.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, update

from briefmail.db.models import AlarmNotice, Batch
from briefmail.db.session import get_engine, session_scope
from briefmail.sending import evidence
from briefmail.tracking.events import apply_events
from briefmail.tracking.sendgrid_events import sendgrid_event
from tests.tracking.factories import World, build_world

T0 = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)
RECEIVED = T0 + timedelta(hours=1)
OLD, CURRENT = "0" * 32, "1" * 32
_worlds = itertools.count()


def _batch(url: str, current: str | None = CURRENT, earlier: list[str] | None = None) -> World:
    # Each its own brief and readers, so one test can hold several batches.
    n = next(_worlds)
    world = build_world(url, slug=f"2024-01-08-brief-{n}", email_prefix=f"reader-{n}-")
    with session_scope(url) as s:
        s.execute(
            update(Batch)
            .where(Batch.id == world.batch_id)
            .values(attempt_key=current, earlier_attempt_keys=earlier or [OLD])
        )
    return world


def _store(url: str, *events: dict[str, Any]) -> None:
    with session_scope(url) as s:
        apply_events(s, [sendgrid_event(e) for e in events], received_at=RECEIVED)


def _event(batch_id: int, key: str, name: str, minute: int | None, **extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "event": name,
        "email": f"{name}-{minute}@example.org",
        "batch_id": str(batch_id),
        "attempt_key": key,
        **extra,
    }
    if minute is not None:
        raw["timestamp"] = int((T0 + timedelta(minutes=minute)).timestamp())
    return raw


@contextmanager
def _statements(url: str) -> Iterator[list[str]]:
    """The SQL statements sent to the database inside the block."""
    seen: list[str] = []
    engine = get_engine(url)

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_the_first_event_of_each_attempt_is_its_sighting(db_url: str) -> None:
    world = _batch(db_url)
    other = _batch(db_url)
    b = world.batch_id
    _store(
        db_url,
        _event(b, CURRENT, "delivered", 7),
        _event(b, CURRENT, "processed", 5),
        _event(b, CURRENT, "deferred", 6),
        # Nested custom_args (some relays) name the attempt just as well.
        {**_event(b, "", "bounce", 3), "custom_args": {"batch_id": b, "attempt_key": OLD}},
        _event(b, OLD, "delivered", 4),
        _event(b, "a-key-never-used", "processed", 1),  # a stray event proves nothing
        _event(other.batch_id, OLD, "processed", 0),  # the same key on another batch
    )
    with session_scope(db_url) as s:
        seen = evidence.sightings(s, b, [OLD, CURRENT])
        only_current = evidence.sightings(s, b, [CURRENT])
        assert evidence.sightings(s, b, []) == {}
    assert seen == {
        CURRENT: evidence.Sighting(CURRENT, "processed", T0 + timedelta(minutes=5)),
        OLD: evidence.Sighting(OLD, "bounce", T0 + timedelta(minutes=3)),
    }
    assert only_current == {CURRENT: seen[CURRENT]}
    assert evidence.earliest(seen) == seen[OLD]


def test_an_event_without_a_time_is_dated_by_its_arrival(db_url: str) -> None:
    b = _batch(db_url).batch_id
    _store(db_url, _event(b, CURRENT, "processed", None))
    with session_scope(db_url) as s:
        proof = evidence.first_sighting(s, b, [CURRENT])
    assert proof == evidence.Sighting(CURRENT, "processed", RECEIVED)


def test_events_of_both_attempts_warn_of_a_double_send(db_url: str) -> None:
    b = _batch(db_url).batch_id
    _store(db_url, _event(b, OLD, "processed", 2))
    with session_scope(db_url) as s:
        batch = s.get_one(Batch, b)
        first, note = evidence.batch_went_out(s, batch)
        assert evidence.earlier_attempt_went_out(s, b) == first
    assert first == evidence.Sighting(OLD, "processed", T0 + timedelta(minutes=2))
    assert note is not None
    assert "whether attempt" in note
    _store(db_url, _event(b, CURRENT, "processed", 9))
    with session_scope(db_url) as s:
        first, note = evidence.batch_went_out(s, s.get_one(Batch, b))
    assert first is not None
    assert first.attempt_key == OLD
    assert note is not None
    assert "both earlier" in note


def test_the_evidence_for_a_batch_is_one_query(db_url: str) -> None:
    b = _batch(db_url).batch_id
    _store(
        db_url,
        *(
            _event(b, key, name, minute)
            for key in (OLD, CURRENT)
            for minute, name in enumerate(("processed", "deferred", "delivered"))
        ),
    )
    with session_scope(db_url) as s:
        batch = s.get_one(Batch, b)
        with _statements(db_url) as statements:
            first, note = evidence.batch_went_out(s, batch)
        assert first is not None
        assert note is not None
        assert len(statements) == 1
        with _statements(db_url) as statements:
            assert evidence.first_sighting(s, b, [OLD, CURRENT]) == first
        assert len(statements) == 1


def test_a_later_request_is_seen_by_its_current_attempt_only(db_url: str) -> None:
    doubtful = _batch(db_url).batch_id
    later = _batch(db_url).batch_id
    after = T0 + timedelta(minutes=1)
    with session_scope(db_url) as s:
        s.execute(
            update(Batch).where(Batch.id == later).values(claimed_at=T0 + timedelta(minutes=2))
        )
    _store(db_url, _event(later, OLD, "processed", 3))  # its earlier attempt: not this request
    with session_scope(db_url) as s:
        assert evidence.later_request_seen(s, doubtful, after) is None
    _store(db_url, _event(later, CURRENT, "processed", 3))
    with session_scope(db_url) as s:
        seen = evidence.later_request_seen(s, doubtful, after)
        assert evidence.later_request_seen(s, doubtful, T0 + timedelta(minutes=2)) is None
        assert evidence.later_request_seen(s, later, after) is None  # not its own events
    assert seen == evidence.LaterRequest(f"batch {later}", T0 + timedelta(minutes=2))


def test_an_alarm_mail_s_events_show_the_webhook_alive(db_url: str) -> None:
    doubtful = _batch(db_url).batch_id
    mailed_at = T0 + timedelta(minutes=5)
    with session_scope(db_url) as s:
        s.add(
            AlarmNotice(
                key="stuck:1",
                kind="stuck",
                message="a batch is stuck",
                attempt_key="alarm-" + "2" * 26,
                raised_at=mailed_at,
                claimed_at=mailed_at,
                mailed_at=mailed_at,
            )
        )
    _store(db_url, _event(0, "alarm-" + "3" * 26, "processed", 6))  # another mail's
    with session_scope(db_url) as s:
        assert evidence.later_request_seen(s, doubtful, T0) is None
    _store(db_url, _event(0, "alarm-" + "2" * 26, "processed", 6))
    with session_scope(db_url) as s:
        seen = evidence.later_request_seen(s, doubtful, T0)
        assert evidence.later_request_seen(s, doubtful, mailed_at) is None
    assert seen == evidence.LaterRequest("an alarm mail", mailed_at)
