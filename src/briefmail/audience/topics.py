"""Topics: created the first time a brief or a subscriber names one.

A topic's id is the slug of its name (`briefmail.briefs.slugs`), and slugifying a
slug gives it back, so "Learning design", "learning design" and "learning-design"
all name the same topic. The first spelling seen becomes the display name, unless
it was only the slug and a real name arrives later. The rows themselves are created
in `briefmail.db.topics`, which briefs use too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from briefmail.audience._sql import SUBSCRIBER_TOPICS, SUBSCRIBERS, SUPPRESSIONS
from briefmail.briefs.slugs import MAX_SLUG, slugify
from briefmail.db.models import Topic
from briefmail.db.topics import ensure_topic_pairs
from briefmail.errors import InvalidInputError

_MAX_NAME = 200


def topic_slug(name_or_slug: str) -> str:
    """The id a topic name (or slug) refers to; InvalidInputError if it has no letters."""
    slug = slugify(name_or_slug)
    if not slug:
        raise InvalidInputError(f"topic {name_or_slug!r} has no letters or digits")
    if len(slug) > MAX_SLUG:
        raise InvalidInputError(
            f"topic {name_or_slug[:40]!r}... is too long (at most {MAX_SLUG} characters)"
        )
    return slug


def parse_topic_list(text: str, sep: str = ";") -> list[str]:
    """Topic names from a `;`-separated CSV cell (or a `,`-separated option); '' -> []."""
    return [part.strip() for part in text.split(sep) if part.strip()]


def ensure_topics(session: Session, names_or_slugs: Iterable[str]) -> list[Topic]:
    """The topics named (in the order named, without repeats), creating missing ones."""
    pairs: dict[str, str] = {}
    for raw in names_or_slugs:
        name = raw.strip()
        if len(name) > _MAX_NAME:
            raise InvalidInputError(f"topic name {name[:40]!r}... is over {_MAX_NAME} characters")
        pairs.setdefault(topic_slug(name), name)
    return ensure_topic_pairs(session, list(pairs.items()))


def resolve_topics(session: Session, names_or_slugs: Iterable[str]) -> list[Topic]:
    """Existing topics only: an unknown name is an InvalidInputError listing known ones."""
    wanted: dict[str, str] = {}
    for raw in names_or_slugs:
        wanted.setdefault(topic_slug(raw.strip()), raw.strip())
    found = {t.slug: t for t in session.scalars(select(Topic).where(Topic.slug.in_(wanted)))}
    unknown = [raw for slug, raw in wanted.items() if slug not in found]
    if unknown:
        known = session.scalars(select(Topic.slug).order_by(Topic.slug)).all()
        listing = ", ".join(known) if known else "none yet"
        raise InvalidInputError(
            f"unknown topic{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}"
            f" (known topics: {listing})"
        )
    return [found[slug] for slug in wanted]


@dataclass(frozen=True, slots=True)
class TopicCount:
    slug: str
    name: str
    subscribers: int  # active, not suppressed subscribers who chose this topic


@dataclass(frozen=True, slots=True)
class TopicListing:
    topics: tuple[TopicCount, ...]
    # Active, not suppressed subscribers with no topics: they take every topic, so
    # they are counted once here rather than added to each topic's figure.
    all_topics: int


def list_topics(session: Session) -> TopicListing:
    """Every topic with the number of reachable subscribers who chose it."""
    sub = SUBSCRIBERS
    links = SUBSCRIBER_TOPICS
    reachable = and_(
        sub.c.status == "active",
        ~exists().where(SUPPRESSIONS.c.email_key == sub.c.email_key),
    )
    counts: dict[str, int] = dict(
        session.execute(
            select(links.c.topic_slug, func.count())
            .select_from(links.join(sub, sub.c.id == links.c.subscriber_id))
            .where(reachable)
            .group_by(links.c.topic_slug)
        ).all()
    )
    all_topics = session.scalar(
        select(func.count())
        .select_from(sub)
        .where(reachable, ~exists().where(links.c.subscriber_id == sub.c.id))
    )
    topics = session.execute(select(Topic.slug, Topic.name).order_by(Topic.slug))
    return TopicListing(
        topics=tuple(TopicCount(slug, name, counts.get(slug, 0)) for slug, name in topics),
        all_topics=all_topics or 0,
    )
