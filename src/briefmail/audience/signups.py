"""Sign-up requests: double opt-in without side effects.

Whoever fills in the public form may not own the address, so asking changes no
subscriber: a request is a row of its own (`SignupRequest`), and only its owner,
who received the confirmation email and submitted the page its link opens, turns it
into a subscription (`confirm_signup`). Until then an active subscriber keeps their
topics and name, and an unsubscribed, bounced or complained one stays that way.

The form must not become a way to mail someone over and over: an address gets at
most one confirmation email per `RESEND_AFTER` and `MAX_MAILS` per `MAIL_WINDOW`,
an active subscriber and a suppressed address get none, and a request that is not
confirmed within `EXPIRES_AFTER` starts over (a new secret, so its old link dies).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from briefmail.audience.subscribers import add_subscriber, clean_name, new_secret, normalise_email
from briefmail.audience.suppression import is_suppressed
from briefmail.audience.topics import resolve_topics
from briefmail.clock import as_utc
from briefmail.db.dialect import insert_ignoring
from briefmail.db.models import SignupRequest, Subscriber

RESEND_AFTER = timedelta(minutes=10)
MAIL_WINDOW = timedelta(days=7)
MAX_MAILS = 3
EXPIRES_AFTER = timedelta(days=7)
_REQUESTS = cast(Table, SignupRequest.__table__)


@dataclass(frozen=True, slots=True)
class Letter:
    """A confirmation email to send: nothing in it comes from the form but the address."""

    request_id: int
    email: str
    secret: str


@dataclass(frozen=True, slots=True)
class PendingSignup:
    """A request as its confirmation page shows it; `topics` are slugs, () = every topic."""

    id: int
    email: str
    secret: str
    topics: tuple[str, ...]
    expired: bool


@dataclass(frozen=True, slots=True)
class Confirmed:
    """The subscription a confirmation made, or why it made none (`status` not active)."""

    status: str  # "active", "blocked" (suppressed), "expired" or "missing"
    subscriber_id: int = 0
    secret: str = ""


def request_signup(
    session: Session, email: str, topic_slugs: Sequence[str], *, now: datetime
) -> Letter | None:
    """Record a request; the confirmation email to send, or None when none is due.

    Raises InvalidInputError for a malformed address or an unknown topic. The caller
    answers the same whatever this returns, so the form tells nobody who subscribed.
    """
    address, key = normalise_email(email)
    topics = sorted({t.slug for t in resolve_topics(session, topic_slugs)}) if topic_slugs else []
    if is_suppressed(session, address):
        return None
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email_key == key))
    if subscriber is not None and subscriber.status == "active":
        return None  # subscribed already: topics are changed on the preferences page
    session.execute(
        insert_ignoring(session, _REQUESTS, ["email_key"]).values(
            email=address,
            email_key=key,
            topics=topics,
            secret=new_secret(),
            created_at=now,
            mails=0,
        )
    )
    request = session.scalars(
        select(SignupRequest).where(SignupRequest.email_key == key).with_for_update()
    ).one()
    if as_utc(request.created_at) <= now - EXPIRES_AFTER:
        request.secret, request.created_at = new_secret(), now  # starts over
    request.topics = topics
    return _letter_if_due(request, now)


def _letter_if_due(request: SignupRequest, now: datetime) -> Letter | None:
    if request.mailed_at is not None and as_utc(request.mailed_at) > now - RESEND_AFTER:
        return None
    window = request.window_started_at
    if window is None or as_utc(window) <= now - MAIL_WINDOW:
        request.window_started_at, request.mails = now, 0
    if request.mails >= MAX_MAILS:
        return None
    request.mails += 1
    request.mailed_at = now
    return Letter(request.id, request.email, request.secret)


def pending_signup(session: Session, request_id: int, *, now: datetime) -> PendingSignup | None:
    """The request `request_id` names (its secret verifies the link), or None."""
    request = session.get(SignupRequest, request_id)
    if request is None:
        return None
    expired = as_utc(request.created_at) <= now - EXPIRES_AFTER
    return PendingSignup(request.id, request.email, request.secret, tuple(request.topics), expired)


def confirm_signup(
    session: Session, request_id: int, *, topic_slugs: Sequence[str], name: str, now: datetime
) -> Confirmed:
    """The owner's confirmation: subscribe the address with the topics and name they
    submitted on the confirmation page ([] topics = every topic), whatever its status
    was; the request is used up. InvalidInputError for an unknown topic or a bad name.
    """
    clean = clean_name(name)
    topics = resolve_topics(session, topic_slugs) if topic_slugs else []
    request = session.get(SignupRequest, request_id, with_for_update=True)
    if request is None:
        return Confirmed("missing")
    if as_utc(request.created_at) <= now - EXPIRES_AFTER:
        return Confirmed("expired")
    if is_suppressed(session, request.email):
        return Confirmed("blocked")
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email_key == request.email_key))
    if subscriber is None:
        subscriber = add_subscriber(session, request.email, status="active").subscriber
    subscriber.status = "active"
    subscriber.topics = topics
    if clean:
        subscriber.name = clean
    subscriber.updated_at = now
    session.delete(request)
    session.flush()
    return Confirmed("active", subscriber.id, subscriber.secret)
