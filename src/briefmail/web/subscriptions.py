"""What the subscriber pages do to the database.

Plain functions over a session, called from the page handlers in a worker thread.
A subscriber token is bound to the subscriber's own secret (a confirmation token to
its sign-up request's), so it is checked in two steps: read the (unverified) id,
load that row, verify the MAC with its secret. Rotating a secret revokes every link
a subscriber was ever sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from briefmail.audience.signups import PendingSignup, pending_signup
from briefmail.audience.subscribers import unsubscribe_by_id
from briefmail.audience.topics import resolve_topics
from briefmail.db.models import Delivery, Subscriber, Topic
from briefmail.tracking import tokens
from briefmail.tracking.events import moves_forward
from briefmail.tracking.tokens import BadToken, Purpose


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
    subscriber_id = _unverified_id(token, purpose, arity=2)
    subscriber = session.get(Subscriber, subscriber_id) if subscriber_id else None
    if subscriber is None:
        return None
    try:
        ints = tokens.verify(keys, token, purpose, arity=2, extra=subscriber.secret.encode())
    except BadToken:
        return None
    return Reader(
        id=subscriber.id,
        email=subscriber.email,
        status=subscriber.status,
        secret=subscriber.secret,
        topics=tuple(sorted(t.slug for t in subscriber.topics)),
        send_id=ints[1],
    )


def signup_from_token(
    session: Session, keys: Sequence[bytes], token: str, *, now: datetime
) -> PendingSignup | None:
    """The sign-up request a confirmation token names, if it verifies with its secret."""
    request_id = _unverified_id(token, Purpose.CONFIRM, arity=1)
    request = pending_signup(session, request_id, now=now) if request_id else None
    if request is None:
        return None
    try:
        tokens.verify(keys, token, Purpose.CONFIRM, arity=1, extra=request.secret.encode())
    except BadToken:
        return None
    return request


def _unverified_id(token: str, purpose: Purpose, *, arity: int) -> int:
    """The row id a token names (0 if it names none): whose secret to verify it with."""
    try:
        parsed = tokens.unverified(token)
    except BadToken:
        return 0
    if parsed.purpose is not purpose or len(parsed.ints) != arity:
        return 0
    return parsed.ints[0]


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
