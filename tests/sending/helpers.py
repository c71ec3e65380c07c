"""Shared set-up for the sending tests: a stored, approved brief and subscribers."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.audience.subscribers import add_subscriber, new_secret
from briefmail.audience.topics import ensure_topics
from briefmail.briefs.store import approve_brief, import_brief
from briefmail.config import get_settings
from briefmail.db.models import Brief, Subscriber, subscriber_topics
from briefmail.db.session import session_factory, session_scope
from briefmail.render import personalise as p
from briefmail.sending import service, snapshot, worker_liveness
from briefmail.sending.backends.base import (
    EmailBackend,
    OutgoingBatch,
    OutgoingContent,
    OutgoingRecipient,
)
from briefmail.sending.engine import Engine
from briefmail.sending.options import SendOptions
from briefmail.sending.retry import RetryPolicy
from briefmail.tracking.events import apply_events
from briefmail.tracking.sendgrid_events import sendgrid_event
from tests.conftest import EXAMPLE_BRIEF

SLUG = "2024-01-08-clinician-educators-want-coaching-programs-not-more-lectures"
POISON = "2024-01-01-poisoned"
TOPICS = ("learning-design", "workflow-based-education", "accreditation-operations")
T0 = datetime(2024, 1, 15, 14, 0, tzinfo=UTC)


def store_brief(session: Session, *, approve: bool = True) -> str:
    row = import_brief(session, EXAMPLE_BRIEF)
    if approve:
        approve_brief(session, row.slug, "editor@example.org")
    return row.slug


def poisoned_brief(session: Session, *, slug: str = POISON, coverage: date | None = None) -> str:
    """An approved brief whose text rendering refuses (an ESC character in the title)."""
    text = EXAMPLE_BRIEF.read_text(encoding="utf-8").replace(
        "title: Clinician-Educators Want", 'title: "A \\e B" #', 1
    )
    row = Brief(
        slug=slug,
        title="A \x1b B",
        source=text,
        source_path=f"{slug}.md",
        content_hash="0" * 64,
        coverage_start=coverage or date(2024, 1, 1),
        status="approved",
        approved_by="editor@example.org",
        approved_at=T0,
        created_at=T0,
        updated_at=T0,
        topics=ensure_topics(session, ["Learning design"]),
    )
    session.add(row)
    session.flush()
    return slug


def add_people(
    session: Session,
    count: int,
    *,
    prefix: str = "reader",
    topics: Sequence[str] = (),
    timezone: str | None = None,
    status: str = "active",
    start: int = 0,
) -> list[int]:
    """`count` subscribers in bulk (ids returned), all with the same topics."""
    ensure_topics(session, topics)
    rows = [
        {
            "email": f"{prefix}{i}@example.org",
            "email_key": f"{prefix}{i}@example.org",
            "name": f"Reader {i}",
            "status": status,
            "timezone": timezone,
            "secret": new_secret(),
            "created_at": T0,
            "updated_at": T0,
        }
        for i in range(start, start + count)
    ]
    session.execute(insert(Subscriber), rows)
    ids = list(
        session.scalars(
            select(Subscriber.id)
            .where(Subscriber.email_key.in_([r["email_key"] for r in rows]))
            .order_by(Subscriber.id)
        )
    )
    if topics and ids:
        session.execute(
            insert(subscriber_topics),
            [{"subscriber_id": i, "topic_slug": t} for i in ids for t in topics],
        )
    return ids


def add_person(session: Session, email: str, **kwargs: Any) -> int:
    return add_subscriber(session, email, **kwargs).subscriber.id


def options(**overrides: Any) -> SendOptions:
    settings = get_settings()
    base = SendOptions.from_settings(settings)
    values = {
        "keys": base.keys,
        "public_url": base.public_url,
        "from_address": base.from_address,
        "unsubscribe_mailto": base.unsubscribe_mailto,
        "postal_address": base.postal_address,
        "batch_size": 1000,
        "retry": RetryPolicy(max_attempts=3, base_seconds=0.01),
        "lease_seconds": 300.0,
    }
    values.update(overrides)
    return SendOptions(**values)


def make_engine(backend: EmailBackend, **overrides: Any) -> Engine:
    return Engine(
        session_factory(get_settings().database_url),
        backend,
        options(**overrides),
        rng=random.Random(7),
    )


def started_send(count: int, batch_size: int = 10) -> int:
    """A due send of an approved brief to `count` readers, claimed and its ledger written."""
    clock.set_now(T0)
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, count, topics=["learning-design"])
        send_id = service.create_send(session, slug, at=T0, now=T0).id
    owner = live_owner()
    with session_scope() as session:
        got = snapshot.claim_due_send(session, now=T0, options=options(), owner=owner)
    assert got == send_id
    snapshot.write_ledger(session_factory(), send_id, owner=owner, batch_size=batch_size)
    return send_id


def live_owner() -> str:
    """A registered engine identity that has just beaten (at the test's clock)."""
    owner = worker_liveness.Owner(session_factory(), lease_seconds=300)
    owner.beat()
    return owner.id


def dead_owner() -> str:
    """A registered engine identity that has stopped (as after a clean shutdown)."""
    owner = worker_liveness.Owner(session_factory(), lease_seconds=300)
    owner.beat()
    owner.stop()
    return owner.id


def outgoing_batch(
    count: int, *, values: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> OutgoingBatch:
    """A batch of `count` made-up recipients, for backends' tests."""
    content = OutgoingContent(
        subject="Subject",
        html="<p>Hi %%bm:name_html%% <a href='%%bm:l1%%'>x</a> %%bm:unsubscribe_url%%</p>",
        text="Hi %%bm:name%% %%bm:l1%% %%bm:unsubscribe_url%%",
        from_address="Brief <brief@example.org>",
    )
    recipients = [
        OutgoingRecipient(
            delivery_id=100 + i,
            subscriber_id=i + 1,
            email=f"r{i}@example.org",
            name=f"R {i}",
            values=values
            or {
                p.NAME: f"R {i}",
                p.NAME_HTML: f"R {i}",
                "l1": f"https://b.example.org/c/{i}",
                p.UNSUBSCRIBE_URL: f"https://b.example.org/u/{i}",
            },
            headers=headers
            or {
                "List-Unsubscribe": f"<https://b.example.org/u/{i}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        for i in range(count)
    ]
    return OutgoingBatch(
        send_id=7, batch_id=9, attempt_key="k1", content=content, recipients=recipients
    )


def store_events(events: list[dict[str, Any]]) -> None:
    """Store SendGrid events as the webhook does, once its request is verified."""
    with session_scope() as session:
        apply_events(session, [sendgrid_event(e) for e in events], received_at=clock.now())
