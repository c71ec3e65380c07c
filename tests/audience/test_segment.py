"""Who a brief reaches, on a hand-built population whose answers are known."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from briefmail.audience.segment import (
    MAX_TOPICS,
    AudienceCount,
    audience_count,
    audience_select,
    narrow_topics,
)
from briefmail.audience.subscribers import add_subscriber
from briefmail.audience.suppression import suppress
from briefmail.audience.topics import ensure_topics
from briefmail.audience.views import AudienceOut
from briefmail.errors import InvalidInputError

BRIEF = ["b", "a", "c"]  # brief order differs from alphabetical on purpose

# email, status, topics, suppressed, expected matched_topics (None = not reached)
POPULATION = [
    ("s01@example.org", "active", ["a"], False, "a"),
    ("s02@example.org", "active", ["a", "b"], False, "b;a"),
    ("s03@example.org", "active", [], False, ""),  # all topics
    ("s04@example.org", "active", ["d"], False, None),  # none of the brief's
    ("s05@example.org", "pending", ["a"], False, None),
    ("s06@example.org", "unsubscribed", [], False, None),
    ("s07@example.org", "bounced", ["b"], False, None),
    ("s08@example.org", "complained", ["a"], False, None),
    ("S09@example.org", "active", ["c"], True, None),  # suppressed under another case
    ("s10@example.org", "active", [], True, None),
    ("s11@example.org", "active", ["c", "d"], False, "c"),
    ("s12@example.org", "active", ["b"], False, "b"),
    ("s13@example.org", "active", ["a", "b", "c", "d"], False, "b;a;c"),
    ("s14@example.org", "active", [], False, ""),
]


@pytest.fixture
def population(session: Session) -> dict[str, int]:
    ensure_topics(session, ["a", "b", "c", "d", "e"])
    ids = {}
    for email, status, topics, suppressed, _ in POPULATION:
        sub = add_subscriber(session, email, name=email[:3], topics=topics, status=status)
        ids[email] = sub.subscriber.id
        if suppressed:
            suppress(session, email.lower(), "hard bounce")
    session.commit()
    return ids


def reached(session: Session, topics: list[str], narrow: list[str] | None = None) -> dict[str, str]:
    rows = session.execute(audience_select(topics, narrow)).all()
    return {row.email: row.matched_topics for row in rows}


def expected(keep: set[str] | None = None) -> dict[str, str]:
    out = {}
    for email, _, _, _, matched in POPULATION:
        if matched is None:
            continue
        held = [t for t in matched.split(";") if t and (keep is None or t in keep)]
        if matched and not held:
            continue
        out[email] = ";".join(held)
    return out


def test_the_audience_is_active_unsuppressed_and_on_topic(
    session: Session, population: dict[str, int]
) -> None:
    assert reached(session, BRIEF) == expected()
    count = audience_count(session, BRIEF)
    assert count == AudienceCount(total=7, by_topic={"b": 3, "a": 3, "c": 2}, all_topics=2)
    assert list(count.by_topic) == BRIEF
    assert AudienceOut.of(count).model_dump() == {
        "total": 7,
        "by_topic": {"b": 3, "a": 3, "c": 2},
        "all_topics": 2,
    }


def test_rows_carry_what_sending_needs_in_id_order(
    session: Session, population: dict[str, int]
) -> None:
    rows = session.execute(audience_select(BRIEF)).all()
    assert [row.subscriber_id for row in rows] == sorted(row.subscriber_id for row in rows)
    first = rows[0]
    assert first._fields == (
        "subscriber_id",
        "email",
        "name",
        "timezone",
        "secret",
        "matched_topics",
    )
    assert (first.subscriber_id, first.email, first.name, first.timezone) == (
        population["s01@example.org"],
        "s01@example.org",
        "s01",
        None,
    )
    assert len(first.secret) == 32


def test_rows_stream_in_chunks(session: Session, population: dict[str, int]) -> None:
    result = session.execute(audience_select(BRIEF), execution_options={"yield_per": 2})
    chunks = [len(part) for part in result.partitions()]
    assert chunks == [2, 2, 2, 1]


@pytest.mark.parametrize(
    ("narrow", "count"),
    [
        (["b"], AudienceCount(total=5, by_topic={"b": 3}, all_topics=2)),
        (["c", "a"], AudienceCount(total=6, by_topic={"a": 3, "c": 2}, all_topics=2)),
        (BRIEF, AudienceCount(total=7, by_topic={"b": 3, "a": 3, "c": 2}, all_topics=2)),
    ],
)
def test_narrowing_keeps_all_topic_subscribers(
    session: Session, population: dict[str, int], narrow: list[str], count: AudienceCount
) -> None:
    assert reached(session, BRIEF, narrow) == expected(set(narrow))
    assert audience_count(session, BRIEF, narrow) == count


def test_a_brief_without_matching_subscribers_reaches_all_topic_ones(
    session: Session, population: dict[str, int]
) -> None:
    assert reached(session, ["e"]) == {"s03@example.org": "", "s14@example.org": ""}
    assert audience_count(session, ["e"]) == AudienceCount(2, {"e": 0}, 2)
    assert audience_count(session, []) == AudienceCount(2, {}, 2)


def test_narrow_topics_validates_against_the_brief(
    session: Session, population: dict[str, int]
) -> None:
    assert narrow_topics(session, BRIEF, ["B", "a"]) == ["b", "a"]
    with pytest.raises(InvalidInputError, match="unknown topic 'zzz'"):
        narrow_topics(session, BRIEF, ["b", "zzz"])
    with pytest.raises(InvalidInputError, match=r"--topics: d is not among the brief's topics"):
        narrow_topics(session, BRIEF, ["d"])
    with pytest.raises(InvalidInputError, match="at least one"):
        narrow_topics(session, BRIEF, [])


def test_too_many_topics_is_refused(session: Session) -> None:
    with pytest.raises(InvalidInputError, match=f"at most {MAX_TOPICS}"):
        audience_count(session, [f"t{i}" for i in range(MAX_TOPICS + 1)])


def test_count_agrees_with_the_rows_on_a_random_population(session: Session) -> None:
    rng = random.Random(7)
    topics = [f"t{i}" for i in range(8)]
    ensure_topics(session, topics)
    for i in range(300):
        status = rng.choice(["active"] * 6 + ["pending", "unsubscribed", "bounced"])
        held = rng.sample(topics, rng.choice([0, 0, 1, 2, 3]))
        add_subscriber(session, f"r{i}@example.org", topics=held, status=status)
        if rng.random() < 0.05:
            suppress(session, f"r{i}@example.org", "manual")
    session.commit()
    brief = ["t5", "t1", "t2"]
    rows = session.execute(audience_select(brief)).all()
    by_topic = {slug: sum(slug in r.matched_topics.split(";") for r in rows) for slug in brief}
    all_topics = sum(r.matched_topics == "" for r in rows)
    assert audience_count(session, brief) == AudienceCount(len(rows), by_topic, all_topics)
    assert 0 < all_topics < len(rows)


def test_counting_leaves_the_callers_transaction_as_it_was(session: Session) -> None:
    """The count's planner settings are scoped to a savepoint that is rolled back."""
    added = add_subscriber(session, "new@example.org").subscriber  # not committed yet
    postgres = session.get_bind().dialect.name == "postgresql"
    settings = "SELECT current_setting('max_parallel_workers_per_gather'), current_setting('jit')"
    if postgres:
        before = session.execute(text(settings)).one()
    assert audience_count(session, ["a"]).total == 1  # sees the caller's own pending row
    assert added.email == "new@example.org"  # still usable, not expired away
    if postgres:
        assert session.execute(text(settings)).one() == before
    session.commit()
    assert audience_count(session, ["a"]).total == 1


def test_briefs_with_many_topics_use_wide_masks(session: Session) -> None:
    topics = [f"t{i:02d}" for i in range(MAX_TOPICS)]
    ensure_topics(session, topics)
    add_subscriber(session, "high@example.org", topics=["t61", "t40"])
    add_subscriber(session, "low@example.org", topics=["t00"])
    session.commit()
    assert reached(session, topics) == {"high@example.org": "t40;t61", "low@example.org": "t00"}
    count = audience_count(session, topics)
    assert (count.total, count.by_topic["t61"], count.by_topic["t40"]) == (2, 1, 1)
