"""Subscribers: normalised addresses, one row per person, statuses that only a person moves.

An address is stored as given (trimmed, domain lower-cased and IDNA-encoded) in
`email`, and fully lower-cased in `email_key`, the unique key: providers treat the
local part case-insensitively in practice, so `Ann@x.org` and `ann@x.org` are one
person. Nothing here re-activates an address that unsubscribed, bounced or complained;
only the confirmation flow turns `pending` into `active`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Row, exists, func, or_, select
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.audience._sql import SUBSCRIBER_TOPICS, SUBSCRIBERS, SUPPRESSIONS
from briefmail.audience.topics import ensure_topics, topic_slug
from briefmail.db.models import SUBSCRIBER_STATUSES, Subscriber
from briefmail.errors import InvalidInputError, NotFoundError, StateError

# Statuses a person (or their mail server) chose; no import or `add` undoes them.
STOPPED_STATUSES = frozenset({"unsubscribed", "bounced", "complained"})

_MAX_EMAIL = 320  # the column width; RFC 5321 paths are shorter still
_MAX_LOCAL = 64
_MAX_DOMAIN = 253
_MAX_NAME = 200
# RFC 5322 dot-atom text; quoted local parts are legal but no list needs them.
_LOCAL_CHARS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_SPACE = re.compile(r"\s")
# The common case in one match (dot-atom local part, ASCII host names ending in a
# letter); anything else takes the step-by-step path that can say what is wrong.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN = re.compile(
    rf"{_ATOM}(?:\.{_ATOM})*@(?:{_NAME}\.)+[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?"
)


class InvalidEmailError(InvalidInputError):
    """An address that cannot be stored; `reason` says why without repeating the address."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"invalid email address {raw!r}: {reason}")
        self.raw = raw
        self.reason = reason


def normalise_email(raw: str) -> tuple[str, str]:
    """(`email`, `email_key`) for `raw`, or InvalidEmailError naming what is wrong."""
    value = raw.strip()
    if _PLAIN.fullmatch(value) and len(value) <= _MAX_EMAIL:
        local, _, domain = value.rpartition("@")
        if len(local) <= _MAX_LOCAL and len(domain) <= _MAX_DOMAIN:
            email = f"{local}@{domain.lower()}"
            return email, email.lower()
    if not value:
        raise InvalidEmailError(raw, "empty")
    if _SPACE.search(value):
        raise InvalidEmailError(raw, "contains spaces")
    if not value.isprintable():
        raise InvalidEmailError(raw, "contains control characters")
    local, at, domain = value.rpartition("@")
    if not at:
        raise InvalidEmailError(raw, "no @")
    if "@" in local:
        raise InvalidEmailError(raw, "more than one @")
    if not local:
        raise InvalidEmailError(raw, "nothing before the @")
    if not domain:
        raise InvalidEmailError(raw, "nothing after the @")
    if len(local) > _MAX_LOCAL:
        raise InvalidEmailError(raw, f"part before the @ is over {_MAX_LOCAL} characters")
    if not local.isascii():
        raise InvalidEmailError(raw, "part before the @ has non-ASCII characters")
    if not _LOCAL_CHARS.fullmatch(local):
        raise InvalidEmailError(raw, "part before the @ has characters not allowed in an address")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidEmailError(raw, "misplaced dot before the @")
    ascii_domain = _normalise_domain(raw, domain)
    email = f"{local}@{ascii_domain}"
    if len(email) > _MAX_EMAIL:
        raise InvalidEmailError(raw, f"over {_MAX_EMAIL} characters")
    return email, email.lower()


def _normalise_domain(raw: str, domain: str) -> str:
    domain = domain.lower()
    if domain.startswith("["):
        raise InvalidEmailError(raw, "IP-address domains are not accepted")
    if "." not in domain:
        raise InvalidEmailError(raw, "domain has no dot")
    if "" in domain.split("."):
        raise InvalidEmailError(raw, "domain has an empty part (a stray dot)")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidEmailError(raw, "domain is not a valid international name") from None
    if len(domain) > _MAX_DOMAIN:
        raise InvalidEmailError(raw, f"domain is over {_MAX_DOMAIN} characters")
    labels = domain.split(".")
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise InvalidEmailError(raw, f"domain part {label!r} is not a valid name")
    if labels[-1].isdigit():
        raise InvalidEmailError(raw, "domain ends in a number")
    return domain


def clean_name(raw: str | None) -> str:
    """A display name as stored: trimmed, one line, at most 200 characters."""
    name = (raw or "").strip()
    if len(name) > _MAX_NAME:
        raise InvalidInputError(f"name is over {_MAX_NAME} characters")
    if not name.isprintable():
        raise InvalidInputError("name contains a line break or control character")
    return name


def clean_timezone(raw: str | None) -> str | None:
    """An IANA zone name ("Europe/Paris") as stored, None for none; local-time sends use it."""
    zone = (raw or "").strip()
    if not zone:
        return None
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(
            f"unknown time zone {zone!r} (use an IANA name such as Europe/Paris)"
        ) from None
    return zone


def new_secret() -> str:
    """Per-subscriber key material for their unsubscribe/preference links."""
    return secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class SubscriberView:
    """What lists, exports and JSON show of a subscriber; `topics` are slugs, () = all."""

    id: int
    email: str
    name: str
    status: str
    topics: tuple[str, ...]
    timezone: str | None
    created_at: datetime
    suppressed: str | None = None  # the reason, when the address is on the suppression list


@dataclass(frozen=True, slots=True)
class AddResult:
    subscriber: Subscriber
    created: bool


def find_subscriber(session: Session, email: str) -> Subscriber | None:
    _, key = normalise_email(email)
    return session.scalars(select(Subscriber).where(Subscriber.email_key == key)).one_or_none()


def get_subscriber(session: Session, email: str) -> Subscriber:
    subscriber = find_subscriber(session, email)
    if subscriber is None:
        raise NotFoundError(f"no subscriber {email.strip()!r}")
    return subscriber


def add_subscriber(
    session: Session,
    email: str,
    *,
    name: str | None = None,
    topics: Sequence[str] | None = None,
    timezone: str | None = None,
    status: str = "active",
    refuse_stopped: bool = False,
) -> AddResult:
    """Create a subscriber, or update the name/topics of an existing one.

    An existing subscriber keeps their status: adding an address that unsubscribed,
    bounced or complained never re-activates it. `topics` None leaves topics alone
    for an existing subscriber (new ones then take every topic); [] means all topics.
    With `refuse_stopped` (a system adding people on their behalf: the API), such an
    address, or a suppressed one, is a StateError instead of a silent no-op.
    """
    if status not in SUBSCRIBER_STATUSES:
        raise InvalidInputError(f"status must be one of {', '.join(SUBSCRIBER_STATUSES)}")
    address, key = normalise_email(email)
    clean = clean_name(name) if name is not None else None
    zone = clean_timezone(timezone)
    topic_rows = ensure_topics(session, topics) if topics is not None else None
    subscriber = session.scalars(
        select(Subscriber).where(Subscriber.email_key == key)
    ).one_or_none()
    if refuse_stopped:
        _refuse_stopped(session, address, key, subscriber)
    if subscriber is not None:
        if clean is not None:
            subscriber.name = clean
        if topic_rows is not None:
            subscriber.topics = topic_rows
        if zone is not None:
            subscriber.timezone = zone
        session.flush()
        return AddResult(subscriber, created=False)
    now = clock.now()
    subscriber = Subscriber(
        email=address,
        email_key=key,
        name=clean or "",
        status=status,
        timezone=zone,
        secret=new_secret(),
        created_at=now,
        updated_at=now,
        topics=topic_rows or [],
    )
    session.add(subscriber)
    session.flush()
    return AddResult(subscriber, created=True)


def _refuse_stopped(session: Session, address: str, key: str, found: Subscriber | None) -> None:
    if found is not None and found.status in STOPPED_STATUSES:
        raise StateError(
            f"{address} is {found.status}: only the person can subscribe again (double opt-in)"
        )
    reason = session.scalar(select(SUPPRESSIONS.c.reason).where(SUPPRESSIONS.c.email_key == key))
    if reason is not None:
        raise StateError(f"{address} is on the suppression list ({reason})")


def update_subscriber(
    session: Session,
    email: str,
    *,
    name: str | None = None,
    topics: Sequence[str] | None = None,
    timezone: str | None = None,
) -> Subscriber:
    """Change what a subscriber chose (name, topics, zone); never their status."""
    subscriber = get_subscriber(session, email)
    if name is not None:
        subscriber.name = clean_name(name)
    if topics is not None:
        subscriber.topics = ensure_topics(session, topics)
    if timezone is not None:
        subscriber.timezone = clean_timezone(timezone)  # "" clears it
    session.flush()
    return subscriber


def unsubscribe(session: Session, email: str) -> Subscriber:
    """Stop every send to `email`; a bounced or complained address keeps that status."""
    return _unsubscribe(get_subscriber(session, email))


def unsubscribe_by_id(session: Session, subscriber_id: int) -> Subscriber:
    """The same, for the one-click link that names a subscriber id."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise NotFoundError(f"no subscriber with id {subscriber_id}")
    return _unsubscribe(subscriber)


def _unsubscribe(subscriber: Subscriber) -> Subscriber:
    if subscriber.status not in STOPPED_STATUSES:
        subscriber.status = "unsubscribed"
        subscriber.updated_at = clock.now()
    return subscriber


def view_of(session: Session, subscriber: Subscriber) -> SubscriberView:
    """One subscriber as lists show them (with their suppression, if any)."""
    reason = session.scalar(
        select(SUPPRESSIONS.c.reason).where(SUPPRESSIONS.c.email_key == subscriber.email_key)
    )
    return SubscriberView(
        id=subscriber.id,
        email=subscriber.email,
        name=subscriber.name,
        status=subscriber.status,
        topics=tuple(sorted(t.slug for t in subscriber.topics)),
        timezone=subscriber.timezone,
        created_at=subscriber.created_at,
        suppressed=reason,
    )


def iter_subscribers(
    session: Session, *, status: str | None = None, chunk_size: int = 5000
) -> Iterator[SubscriberView]:
    """Every subscriber in id order, fetched a chunk at a time (exports of any size)."""
    after: int | None = 0
    while after is not None:
        views, after = page_subscribers(session, status=status, after=after, limit=chunk_size)
        yield from views


def page_subscribers(
    session: Session,
    *,
    status: str | None = None,
    topic: str | None = None,
    q: str | None = None,
    after: int = 0,
    limit: int = 100,
) -> tuple[list[SubscriberView], int | None]:
    """Subscribers after id `after`, in id order (keyset pagination: a page costs the
    same however deep); returns the page and the id to continue after, or None at the end.

    `topic`: those who chose it (subscribers with no topics take every topic and are
    not listed under one); `q`: a case-insensitive part of the email or the name.
    """
    if status is not None and status not in SUBSCRIBER_STATUSES:
        raise InvalidInputError(
            f"status: {status!r} is not one of {', '.join(SUBSCRIBER_STATUSES)}"
        )
    table = SUBSCRIBERS
    query = (
        select(
            table.c.id,
            table.c.email,
            table.c.name,
            table.c.status,
            table.c.timezone,
            table.c.created_at,
            SUPPRESSIONS.c.reason,
        )
        .select_from(table.outerjoin(SUPPRESSIONS, SUPPRESSIONS.c.email_key == table.c.email_key))
        .where(table.c.id > after)
        .order_by(table.c.id)
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(table.c.status == status)
    if topic:
        chosen = SUBSCRIBER_TOPICS.c
        query = query.where(
            exists().where(
                chosen.subscriber_id == table.c.id, chosen.topic_slug == topic_slug(topic)
            )
        )
    if q and q.strip():
        part = q.strip().lower()
        query = query.where(
            or_(
                table.c.email_key.contains(part, autoescape=True),
                func.lower(table.c.name).contains(part, autoescape=True),
            )
        )
    rows = session.execute(query).all()
    more = len(rows) > limit
    views = _views(session, rows[:limit])
    return views, (views[-1].id if more else None)


def _views(
    session: Session, rows: Sequence[Row[Any, Any, Any, Any, Any, Any, Any]]
) -> list[SubscriberView]:
    ids = [row.id for row in rows]
    topics: dict[int, list[str]] = {}
    links = session.execute(
        select(SUBSCRIBER_TOPICS.c.subscriber_id, SUBSCRIBER_TOPICS.c.topic_slug)
        .where(SUBSCRIBER_TOPICS.c.subscriber_id.in_(ids))
        .order_by(SUBSCRIBER_TOPICS.c.subscriber_id, SUBSCRIBER_TOPICS.c.topic_slug)
    )
    for subscriber_id, slug in links:
        topics.setdefault(subscriber_id, []).append(slug)
    return [
        SubscriberView(
            id=row.id,
            email=row.email,
            name=row.name,
            status=row.status,
            topics=tuple(topics.get(row.id, ())),
            timezone=row.timezone,
            created_at=row.created_at,
            suppressed=row.reason,
        )
        for row in rows
    ]
