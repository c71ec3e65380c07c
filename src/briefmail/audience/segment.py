"""Who a brief reaches, as one query the database can stream and count by itself.

A subscriber is in the audience of a brief when they are `active`, their address
is not on the suppression list, and either they chose at least one of the brief's
topics (narrowed by `--topics` when given) or they chose no topics at all, which
means every topic. Narrowing never drops an all-topics subscriber: they take every
topic, including the ones narrowed to.

Everything is decided in SQL, in one pass: each subscriber is joined to a bitmask of
the brief's topics they hold (aggregated from `subscriber_topics` in its primary-key
order, so the join is a merge), and anti-joined to `suppressions` on email_key. So
counting a million subscribers never moves a million rows into Python, and sending
can stream the rows with `yield_per` or copy them into deliveries with INSERT ..
SELECT.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    String,
    Subquery,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from briefmail.audience._sql import SUBSCRIBER_TOPICS, SUBSCRIBERS, SUPPRESSIONS
from briefmail.audience.topics import resolve_topics
from briefmail.briefs.store import get_brief, topic_slugs
from briefmail.db.dialect import is_postgres
from briefmail.db.models import Brief
from briefmail.errors import InvalidInputError

_subscribers = SUBSCRIBERS
_links = SUBSCRIBER_TOPICS
_suppressions = SUPPRESSIONS


def effective_topics(
    brief_topic_slugs: Sequence[str], narrow: Sequence[str] | None = None
) -> list[str]:
    """The brief's topics (in the brief's order), kept to `narrow` when it is given."""
    topics = list(dict.fromkeys(brief_topic_slugs))
    if narrow is None:
        return topics
    keep = set(narrow)
    return [slug for slug in topics if slug in keep]


def narrow_topics(
    session: Session, brief_topic_slugs: Sequence[str], names_or_slugs: Sequence[str]
) -> list[str]:
    """Validate a `--topics` narrowing against the brief: slugs, or InvalidInputError.

    Each name must be an existing topic (names and slugs both work) and one of the
    brief's topics: narrowing can only take topics away, never add one.
    """
    if not names_or_slugs:
        raise InvalidInputError("--topics: give at least one topic")
    slugs = [topic.slug for topic in resolve_topics(session, names_or_slugs)]
    outside = [slug for slug in slugs if slug not in brief_topic_slugs]
    if outside:
        raise InvalidInputError(
            f"--topics: {', '.join(outside)} {'is' if len(outside) == 1 else 'are'} not "
            f"among the brief's topics ({', '.join(brief_topic_slugs) or 'none'})"
        )
    return slugs


# Bits of a BIGINT mask; no brief comes near this many topics.
MAX_TOPICS = 62


def _reachable() -> ColumnElement[bool]:
    return and_(
        _subscribers.c.status == "active",
        ~exists().where(_suppressions.c.email_key == _subscribers.c.email_key),
    )


def _masks(topics: Sequence[str]) -> Subquery:
    """(subscriber_id, mask) for every subscriber with topics: bit i set = holds topics[i].

    Summing one distinct power of two per held topic is a bitwise OR, since a
    subscriber holds each topic at most once (primary key), and `sum` exists on
    both databases where `bit_or` does not. Subscribers with no topics have no row.
    """
    if len(topics) > MAX_TOPICS:
        raise InvalidInputError(f"a brief may have at most {MAX_TOPICS} topics to segment by")
    weight: ColumnElement[int] = (
        case(
            {slug: 1 << bit for bit, slug in enumerate(topics)}, value=_links.c.topic_slug, else_=0
        )
        if topics
        else literal(0)
    )
    return (
        # PostgreSQL sums BIGINTs (beyond 31 topics) as NUMERIC, which has no `&`.
        select(_links.c.subscriber_id, cast(func.sum(weight), BigInteger).label("mask"))
        .group_by(_links.c.subscriber_id)
        .subquery("masks")
    )


def _has_bit(mask: ColumnElement[int], bit: int) -> ColumnElement[bool]:
    return mask.op("&")(1 << bit) != 0


def audience_select(
    brief_topic_slugs: Sequence[str], narrow: Sequence[str] | None = None
) -> Select[tuple[int, str, str, str | None, str, str]]:
    """The audience as rows (subscriber_id, email, name, timezone, secret, matched_topics).

    `matched_topics` is the `;`-joined slugs of the subscriber's topics that the
    (narrowed) brief covers, in the brief's order; '' for an all-topics subscriber.
    Rows come in subscriber id order, from one pass that joins each subscriber to
    their topic mask. `narrow` must already be validated slugs (`narrow_topics`).
    """
    topics = effective_topics(brief_topic_slugs, narrow)
    masks = _masks(topics)
    mask = masks.c.mask
    # 'a;' || 'b;' ... for each topic held, trailing ';' trimmed.
    joined: ColumnElement[str] = literal("", String)
    for bit, slug in enumerate(topics):
        joined = joined + case((_has_bit(mask, bit), literal(f"{slug};", String)), else_="")
    matched = func.rtrim(joined, ";", type_=String)
    return (
        select(
            _subscribers.c.id.label("subscriber_id"),
            _subscribers.c.email,
            _subscribers.c.name,
            _subscribers.c.timezone,
            _subscribers.c.secret,
            matched.label("matched_topics"),
        )
        .select_from(_subscribers.outerjoin(masks, masks.c.subscriber_id == _subscribers.c.id))
        .where(_reachable(), or_(mask.is_(None), mask > 0))
        .order_by(_subscribers.c.id)
    )


@dataclass(frozen=True, slots=True)
class AudienceCount:
    total: int  # each subscriber once
    by_topic: dict[str, int]  # per (narrowed) brief topic; a subscriber counts in each held
    all_topics: int  # subscribers with no topics (included in total, in no by_topic)


def audience_count(
    session: Session, brief_topic_slugs: Sequence[str], narrow: Sequence[str] | None = None
) -> AudienceCount:
    """Count `audience_select` without fetching it: one pass, grouped by topic mask.

    At most 2**len(topics) + 2 groups come back (no topics, none matching, each
    combination), from which total, per-topic and all-topics figures follow.
    """
    topics = effective_topics(brief_topic_slugs, narrow)
    masks = _masks(topics)
    query = (
        select(masks.c.mask, func.count())
        .select_from(_subscribers.outerjoin(masks, masks.c.subscriber_id == _subscribers.c.id))
        .where(_reachable())
        .group_by(masks.c.mask)
    )
    with _single_scan(session):
        groups = session.execute(query).all()
    all_topics = sum(n for mask, n in groups if mask is None)
    matched = [(int(mask), n) for mask, n in groups if mask]
    by_topic = {
        slug: sum(n for mask, n in matched if mask & (1 << bit)) for bit, slug in enumerate(topics)
    }
    return AudienceCount(
        total=all_topics + sum(n for _, n in matched), by_topic=by_topic, all_topics=all_topics
    )


@contextmanager
def _single_scan(session: Session) -> Iterator[None]:
    """On PostgreSQL, plan the count as one serial merge pass, then restore the settings.

    Left to itself the planner picks a parallel plan in which every worker rebuilds
    the whole per-subscriber mask table, and JIT-compiles a query that runs once;
    both measured slower (bench/audience.py). SET LOCAL inside a savepoint is undone
    when the savepoint rolls back, so the caller's transaction is left as it was.
    """
    if not is_postgres(session):
        yield
        return
    savepoint = session.begin_nested()
    try:
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        session.execute(text("SET LOCAL jit = off"))
        yield
    finally:
        savepoint.rollback()


def brief_audience(
    session: Session, slug: str, narrow_to: Sequence[str] | None = None
) -> tuple[Brief, AudienceCount]:
    """The stored brief `slug` and who it reaches, narrowed to `narrow_to` (topic names
    or slugs among the brief's) when given."""
    brief = get_brief(session, slug)
    brief_topics = topic_slugs(brief)
    narrow = narrow_topics(session, brief_topics, narrow_to) if narrow_to is not None else None
    return brief, audience_count(session, brief_topics, narrow)
