"""What the subscriber pages do to the database.

Plain functions over a session, called from the page handlers in a worker thread.
A subscriber token is bound to the subscriber's own secret, so it is checked in two
steps: read the (unverified) subscriber id, load that subscriber, verify the MAC with
their secret. Rotating a secret revokes every link a subscriber was ever sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from briefmail.audience.subscribers import (
    add_subscriber,
    clean_name,
    normalise_email,
    unsubscribe_by_id,
)
from briefmail.audience.suppression import is_suppressed
from briefmail.audience.topics import resolve_topics
from briefmail.clock import as_utc
from briefmail.db.models import Delivery, Subscriber, Topic
from briefmail.tracking import tokens
from briefmail.tracking.events import moves_forward
from briefmail.tracking.tokens import BadToken, Purpose

# A pending address gets at most one confirmation email per this interval.
RESEND_AFTER = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Reader:
    """A subscriber as a page shows them; `topics` are slugs, () = every topic."""

    id: int
    email: str
    status: str
    secret: str
    topics: tuple[str, ...]
    send_id: int


def reader_from_token(
    session: Session, keys: Sequence[bytes], token: str, purpose: Purpose
) -> Reader | None:
    """The subscriber a token names, if it verifies with their secret; else None."""
    try:
        parsed = tokens.unverified(token)
    except BadToken:
        return None
    arity = 1 if purpose is Purpose.CONFIRM else 2
    if parsed.purpose is not purpose or len(parsed.ints) != arity:
        return None
    subscriber = session.get(Subscriber, parsed.ints[0])
    if subscriber is None:
        return None
    try:
        ints = tokens.verify(keys, token, purpose, arity=arity, extra=subscriber.secret.encode())
    except BadToken:
        return None
    return Reader(
        id=subscriber.id,
        email=subscriber.email,
        status=subscriber.status,
        secret=subscriber.secret,
        topics=tuple(sorted(t.slug for t in subscriber.topics)),
        send_id=ints[1] if arity == 2 else 0,
    )


def unsubscribe(session: Session, subscriber_id: int, send_id: int) -> None:
    """Stop all mail to the subscriber; mark the delivery of `send_id` for the report.

    Idempotent: a second call finds nothing left to change.
    """
    unsubscribe_by_id(session, subscriber_id)
    if send_id:
        delivery = session.scalar(
            select(Delivery).where(
                Delivery.send_id == send_id, Delivery.subscriber_id == subscriber_id
            )
        )
        if delivery is not None and moves_forward(delivery.status, "unsubscribed"):
            delivery.status = "unsubscribed"


def all_topics(session: Session) -> list[tuple[str, str]]:
    """(slug, name) of every topic, by name."""
    rows = session.execute(select(Topic.slug, Topic.name).order_by(Topic.name))
    return [(slug, name) for slug, name in rows]


def save_topics(session: Session, subscriber_id: int, slugs: Sequence[str]) -> None:
    """Set the subscriber's topics ([] = every topic); unknown slugs are InvalidInputError."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return
    subscriber.topics = resolve_topics(session, slugs) if slugs else []


@dataclass(frozen=True, slots=True)
class Confirmation:
    """Whom to send a confirmation email, decided inside the transaction."""

    subscriber_id: int
    email: str
    name: str
    secret: str


def request_subscription(
    session: Session, email: str, name: str, topic_slugs: Sequence[str], *, now: datetime
) -> Confirmation | None:
    """Record a sign-up; the confirmation to send, or None when none is due.

    A new address is stored `pending`. An active subscriber is left exactly as they
    are. An unsubscribed (or bounced/complained, once un-suppressed) address goes back
    to `pending`, which receives nothing, with its new choice recorded; a pending one
    gets its choice updated. Either gets a confirmation email, at most once per
    RESEND_AFTER, and becomes active only when the link in it is followed.
    Suppressed addresses are never mailed. The caller answers the same in every case, so the
    form does not reveal who is subscribed.

    Raises InvalidInputError for a malformed address, name or unknown topic.
    """
    address, key = normalise_email(email)
    clean = clean_name(name)
    topics = [t.slug for t in resolve_topics(session, topic_slugs)] if topic_slugs else []
    if is_suppressed(session, address):
        return None
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email_key == key))
    if subscriber is None:
        subscriber = add_subscriber(
            session, address, name=clean, topics=topics, status="pending"
        ).subscriber
        subscriber.updated_at = now
        return Confirmation(subscriber.id, subscriber.email, subscriber.name, subscriber.secret)
    if subscriber.status == "active":
        return None
    if subscriber.status == "pending" and as_utc(subscriber.updated_at) > now - RESEND_AFTER:
        return None  # one confirmation email per interval, whoever asks
    # Back to pending: still receives nothing until the link in the email is followed.
    subscriber.status = "pending"
    subscriber.topics = resolve_topics(session, topics) if topics else []
    if clean:
        subscriber.name = clean
    subscriber.updated_at = now
    return Confirmation(subscriber.id, subscriber.email, subscriber.name, subscriber.secret)


def confirm(session: Session, subscriber_id: int) -> str:
    """Make a pending address active (unless suppressed); returns the resulting status.

    Only `pending` moves: an unsubscribe withdraws the consent an old confirmation link
    carried, so leaving and then following that link again changes nothing; coming
    back is a new sign-up (back to pending) and its own confirmation.
    """
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return "missing"
    if subscriber.status == "pending" and not is_suppressed(session, subscriber.email):
        subscriber.status = "active"
    return subscriber.status
