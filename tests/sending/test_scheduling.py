"""Weekly slots, DST, local-time delivery across zones, retry delays and batching."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from briefmail import clock
from briefmail.briefs.store import approve_brief, import_brief
from briefmail.db.models import Batch, Delivery, Send
from briefmail.db.session import session_scope
from briefmail.errors import InvalidInputError
from briefmail.sending import weekly
from briefmail.sending.backends.outbox import OutboxBackend
from briefmail.sending.batching import plan_batches
from briefmail.sending.retry import RetryPolicy
from briefmail.sending.scheduling import WeeklyRule, parse_weekday, wall_clock, zone
from tests.conftest import EXAMPLE_BRIEF
from tests.sending.helpers import add_people, add_person, make_engine, store_brief

NY = "America/New_York"


def test_a_slot_follows_daylight_saving_time() -> None:
    rule = WeeklyRule(weekday=0, at=time(9, 0), zone_name=NY)
    assert rule.occurrence(date(2024, 3, 4)) == datetime(2024, 3, 4, 14, 0, tzinfo=UTC)  # EST
    assert rule.occurrence(date(2024, 3, 11)) == datetime(2024, 3, 11, 13, 0, tzinfo=UTC)  # EDT
    # Sunday evening: the latest occurrence is last Monday's, the next is tomorrow's.
    now = datetime(2024, 3, 10, 23, 0, tzinfo=UTC)
    assert rule.current_day(now) == date(2024, 3, 4)
    assert rule.next_day(now) == date(2024, 3, 11)
    assert rule.current_day(datetime(2024, 3, 11, 13, 0, tzinfo=UTC)) == date(2024, 3, 11)


def test_a_wall_time_in_the_spring_gap_lands_after_it() -> None:
    # 02:30 does not exist in New York on 2024-03-10.
    assert wall_clock(date(2024, 3, 10), time(2, 30), NY, NY) == datetime(
        2024, 3, 10, 7, 30, tzinfo=UTC
    )


def test_local_time_starts_with_the_first_zone_to_reach_the_slot() -> None:
    rule = WeeklyRule(weekday=0, at=time(9, 0), zone_name=NY, local_time=True)
    assert rule.start(date(2024, 1, 15)) == datetime(2024, 1, 14, 19, 0, tzinfo=UTC)  # 09:00 at +14
    assert rule.occurrence(date(2024, 1, 15)) == datetime(2024, 1, 15, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["funday", "mo", ""])
def test_bad_days_and_zones_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError, match="--day"):
        parse_weekday(text)


def test_zones_must_exist() -> None:
    with pytest.raises(InvalidInputError, match="--tz"):
        zone("Mars/Olympus_Mons")
    assert parse_weekday("Monday") == parse_weekday("mon") == 0


def test_retry_delays_grow_and_honour_retry_after() -> None:
    policy = RetryPolicy(max_attempts=4, base_seconds=10)
    rng = random.Random(1)
    delays = [policy.delay(n, None, rng) for n in (1, 2, 3)]
    assert 5 <= delays[0] <= 10
    assert 10 <= delays[1] <= 20
    assert 20 <= delays[2] <= 40
    assert 120 <= policy.delay(1, 120, rng) <= 150
    assert policy.should_retry(3)
    assert not policy.should_retry(4)


def test_batches_never_mix_due_times_or_exceed_the_size() -> None:
    t1, t2 = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)
    rows = [(i, t1) for i in range(5)] + [(i, t2) for i in range(5, 8)]
    plans = list(plan_batches(rows, 2))
    assert [p.delivery_ids for p in plans] == [(0, 1), (2, 3), (4,), (5, 6), (7,)]
    assert [p.due_at for p in plans] == [t1, t1, t1, t2, t2]
    assert [p.seq for p in plans] == [1, 2, 3, 4, 5]


def _second_brief(tmp_path: Path) -> Path:
    text = EXAMPLE_BRIEF.read_text()
    text = text.replace(
        "title: Clinician-Educators Want Coaching Programs, Not More Lectures",
        "title: Accreditation Teams Ask For Fewer Forms",
    )
    text = text.replace("start: 2024-01-08", "start: 2024-01-15").replace(
        "end: 2024-01-14", "end: 2024-01-21"
    )
    path = tmp_path / "second.md"
    path.write_text(text)
    return path


def test_the_weekly_slot_sends_one_brief_per_slot_oldest_week_first(
    db_url: str, tmp_path: Path
) -> None:
    sunday = datetime(2024, 1, 14, 12, 0, tzinfo=UTC)
    clock.set_now(sunday)
    with session_scope() as session:
        newer = import_brief(session, _second_brief(tmp_path)).slug
        approve_brief(session, newer, "editor")
        older = store_brief(session)
        add_people(session, 3, topics=["learning-design"])
        weekly.set_weekly_slot(session, day="mon", at="09:00", tz=NY, local_time=False, now=sunday)
        plan = weekly.plan(session, now=sunday)
        assert plan is not None
        assert plan.next_occurrence == datetime(2024, 1, 15, 14, 0, tzinfo=UTC)
        assert [b.slug for b in plan.queue] == [older, newer]
    engine = make_engine(OutboxBackend(tmp_path / "o"))
    assert engine.tick().weekly_send is None  # not yet
    clock.set_now(datetime(2024, 1, 15, 14, 0, 30, tzinfo=UTC))
    first = engine.tick().weekly_send
    assert first is not None
    engine.work()
    assert engine.tick().weekly_send is None  # one brief per slot
    clock.set_now(datetime(2024, 1, 22, 14, 1, tzinfo=UTC))
    second = engine.tick().weekly_send
    engine.work()
    clock.set_now(datetime(2024, 1, 29, 14, 1, tzinfo=UTC))
    assert engine.tick().weekly_send is None  # nothing left in line
    with session_scope() as session:
        sends = {s.id: s for s in session.scalars(select(Send))}
        assert sends[first].brief.slug == older
        assert second is not None
        assert sends[second].brief.slug == newer
        assert {s.status for s in sends.values()} == {"sent"}
        assert clock.as_utc(sends[first].scheduled_for) == datetime(2024, 1, 15, 14, 0, tzinfo=UTC)


def test_a_slot_set_after_this_weeks_occurrence_waits_for_next_week(
    db_url: str, tmp_path: Path
) -> None:
    tuesday = datetime(2024, 1, 16, 12, 0, tzinfo=UTC)
    clock.set_now(tuesday)
    with session_scope() as session:
        store_brief(session)
        weekly.set_weekly_slot(session, day="mon", at="09:00", tz=NY, local_time=False, now=tuesday)
    assert make_engine(OutboxBackend(tmp_path / "o")).tick().weekly_send is None


def test_local_time_reaches_each_zone_at_nine_its_own_time(db_url: str, tmp_path: Path) -> None:
    sunday = datetime(2024, 1, 14, 12, 0, tzinfo=UTC)
    clock.set_now(sunday)
    zones = {
        "tokyo": "Asia/Tokyo",  # Mon 09:00 JST = Mon 00:00 UTC
        "london": "Europe/London",  # 09:00 UTC
        "ny": NY,  # 14:00 UTC
        "la": "America/Los_Angeles",  # 17:00 UTC
        "none": None,  # the slot's zone: 14:00 UTC
        "bogus": "Not/AZone",  # unknown: the slot's zone
    }
    with session_scope() as session:
        store_brief(session)
        for name, tz in zones.items():  # straight into the table: "bogus" is legacy data
            add_people(session, 1, prefix=name, topics=["learning-design"], timezone=tz)
        add_person(
            session, "kathmandu@example.org", topics=["clinical-ai"], timezone="Asia/Kathmandu"
        )
        weekly.set_weekly_slot(session, day="mon", at="09:00", tz=NY, local_time=True, now=sunday)
    outbox = tmp_path / "o"
    engine = make_engine(OutboxBackend(outbox))

    def sent() -> list[str]:
        with session_scope() as session:
            return sorted(
                session.scalars(select(Delivery.email).where(Delivery.status == "accepted"))
            )

    clock.set_now(datetime(2024, 1, 14, 19, 0, tzinfo=UTC))  # 09:00 at UTC+14: it begins
    assert engine.tick().weekly_send is not None
    engine.work()
    assert sent() == []
    with session_scope() as session:
        dues = Counter(clock.as_utc(b.due_at).hour for b in session.scalars(select(Batch)))
    assert dues == Counter({0: 1, 9: 1, 14: 1, 17: 1})  # one batch per due time
    steps = [
        (datetime(2024, 1, 15, 0, 0, tzinfo=UTC), ["tokyo"]),
        (datetime(2024, 1, 15, 9, 0, tzinfo=UTC), ["london", "tokyo"]),
        (datetime(2024, 1, 15, 14, 0, tzinfo=UTC), ["bogus", "london", "none", "ny", "tokyo"]),
        (
            datetime(2024, 1, 15, 17, 0, tzinfo=UTC),
            ["bogus", "la", "london", "none", "ny", "tokyo"],
        ),
    ]
    for now, who in steps:
        clock.set_now(now - timedelta(seconds=1))
        engine.work()
        clock.set_now(now)
        engine.work()
        assert sent() == [f"{w}0@example.org" for w in who]
    with session_scope() as session:
        assert session.scalars(select(Send.status)).one() == "sent"
