"""Who a brief reaches, as one query the database can stream and count by itself.

A subscriber is in the audience of a brief when they are `active`, their address
is not on the suppression list, and either they chose at least one of the brief's
topics (narrowed by `--topics` when given) or they chose no topics at all, which
means every topic. Narrowing never drops an all-topics subscriber: they take every
topic, including the ones narrowed to.

Everything is decided in SQL with EXISTS / NOT EXISTS against `subscriber_topics`
(primary key (subscriber_id, topic_slug) and index (topic_slug, subscriber_id)) and
`suppressions` (keyed by email_key), so counting a million subscribers never moves
a million rows into Python, and sending can stream the rows with `yield_per` or
copy them into deliveries with INSERT .. SELECT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, String, and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from briefmail.audience._sql import SUBSCRIBER_TOPICS, SUBSCRIBERS, SUPPRESSIONS
from briefmail.audience.topics import resolve_topics
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


def _reachable() -> ColumnElement[bool]:
    return and_(
        _subscribers.c.status == "active",
        ~exists().where(_suppressions.c.email_key == _subscribers.c.email_key),
    )


def _has_any(slugs: Sequence[str]) -> ColumnElement[bool]:
    return exists().where(
        _links.c.subscriber_id == _subscribers.c.id, _links.c.topic_slug.in_(slugs)
    )


def _has_topic(slug: str) -> ColumnElement[bool]:
    return exists().where(_links.c.subscriber_id == _subscribers.c.id, _links.c.topic_slug == slug)


def _has_none() -> ColumnElement[bool]:
    return ~exists().where(_links.c.subscriber_id == _subscribers.c.id)


def audience_select(
    brief_topic_slugs: Sequence[str], narrow: Sequence[str] | None = None
) -> Select[tuple[int, str, str, str | None, str, str]]:
    """The audience as rows (subscriber_id, email, name, timezone, secret, matched_topics).

    `matched_topics` is the `;`-joined slugs of the subscriber's topics that the
    (narrowed) brief covers, in the brief's order; '' for an all-topics subscriber.
    Rows come in subscriber id order. `narrow` must already be validated slugs
    (`narrow_topics`).
    """
    topics = effective_topics(brief_topic_slugs, narrow)
    if topics:
        # 'a;' || 'b;' ... for each topic held, trailing ';' trimmed: no string_agg,
        # whose ordering SQLite cannot express, and one index probe per topic.
        joined: ColumnElement[str] = literal("", String)
        for slug in topics:
            joined = joined + case((_has_topic(slug), literal(f"{slug};", String)), else_="")
        matched: ColumnElement[str] = func.rtrim(joined, ";", type_=String)
        who = or_(_has_any(topics), _has_none())
    else:
        matched = literal("", String)
        who = _has_none()
    return (
        select(
            _subscribers.c.id.label("subscriber_id"),
            _subscribers.c.email,
            _subscribers.c.name,
            _subscribers.c.timezone,
            _subscribers.c.secret,
            matched.label("matched_topics"),
        )
        .where(_reachable(), who)
        .order_by(_subscribers.c.id)
    )


@dataclass(frozen=True, slots=True)
class AudienceCount:
    total: int  # each subscriber once
    by_topic: dict[str, int]  # per (narrowed) brief topic; a subscriber counts in each held
    all_topics: int  # subscribers with no topics (included in total, in no by_topic)

    def as_json(self) -> dict[str, object]:
        return {"total": self.total, "by_topic": dict(self.by_topic), "all_topics": self.all_topics}


def audience_count(
    session: Session, brief_topic_slugs: Sequence[str], narrow: Sequence[str] | None = None
) -> AudienceCount:
    """Count `audience_select` without fetching it, in one statement.

    The audience splits into two disjoint parts, those holding a matching topic and
    those holding none, so total = matched + all_topics and no DISTINCT is needed.
    """
    topics = effective_topics(brief_topic_slugs, narrow)
    base = select(func.count()).select_from(_subscribers).where(_reachable())
    parts = [base.where(_has_none()).scalar_subquery().label("all_topics")]
    if topics:
        parts.append(base.where(_has_any(topics)).scalar_subquery().label("matched"))
        for index, slug in enumerate(topics):
            per_topic = (
                select(func.count())
                .select_from(_links.join(_subscribers, _subscribers.c.id == _links.c.subscriber_id))
                .where(_links.c.topic_slug == slug, _reachable())
            )
            parts.append(per_topic.scalar_subquery().label(f"t{index}"))
    row = session.execute(select(*parts)).one()
    all_topics = int(row[0])
    matched = int(row[1]) if topics else 0
    by_topic = {slug: int(row[2 + i]) for i, slug in enumerate(topics)}
    return AudienceCount(total=matched + all_topics, by_topic=by_topic, all_topics=all_topics)
