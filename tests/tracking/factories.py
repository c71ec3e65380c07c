"""Hand-built sends for tracking, web and report tests: rows written directly.

The tests of this part do not depend on the send pipeline: they write the rows a send
leaves behind (brief, send, batch, deliveries, send links) with known values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from briefmail.db.models import (
    Batch,
    Brief,
    Delivery,
    Send,
    SendLink,
    Subscriber,
    Topic,
)
from briefmail.db.session import session_scope

T0 = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)
LINKS: tuple[tuple[int, str, str, int | None], ...] = (
    (0, "https://brief.example.org/", "honeypot", None),
    (1, "https://www.facultyfeed.example.org/episodes/1", "source", 1),
    (2, "https://www.youtube.com/watch?v=ki-34", "source", 2),
    (3, "https://www.chatcme.example.com/demo", "cta", None),
    (4, "https://www.facultyfeed.example.org/episodes/1", "citation", 1),
)
TOPICS = (("learning-design", "Learning design"), ("accreditation", "Accreditation operations"))


@dataclass
class World:
    brief_id: int
    brief_slug: str
    send_id: int
    batch_id: int
    subscribers: list[int] = field(default_factory=list)
    secrets: dict[int, str] = field(default_factory=dict)
    emails: dict[int, str] = field(default_factory=dict)
    deliveries: dict[int, int] = field(default_factory=dict)


def ensure_topics(url: str) -> None:
    with session_scope(url) as s:
        for slug, name in TOPICS:
            if s.get(Topic, slug) is None:
                s.add(Topic(slug=slug, name=name, created_at=T0))


def build_world(
    url: str,
    *,
    slug: str = "2024-01-08-clinician-educators",
    subscribers: int = 3,
    accepted_at: datetime | None = T0,
    links: Sequence[tuple[int, str, str, int | None]] = LINKS,
    topics: Sequence[str] = ("learning-design",),
    kind: str = "brief",
    delivery_status: str = "accepted",
    email_prefix: str = "reader",
    brief_id: int | None = None,
) -> World:
    ensure_topics(url)
    with session_scope(url) as s:
        if brief_id is None:
            brief = Brief(
                slug=slug,
                title="Clinician-Educators Want Coaching Programs",
                source="---\n",
                content_hash="0" * 64,
                coverage_start=date(2024, 1, 8),
                status="approved",
            )
            s.add(brief)
            s.flush()
            brief_id = brief.id
        send = Send(brief_id=brief_id, kind=kind, status="sent", scheduled_for=T0)
        s.add(send)
        s.flush()
        batch = Batch(
            send_id=send.id,
            seq=0,
            status="accepted",
            size=subscribers,
            due_at=T0,
            accepted_at=accepted_at,
            attempt_key="a" * 32,
        )
        s.add(batch)
        s.flush()
        for link_id, link_url, link_kind, number in links:
            s.add(
                SendLink(
                    send_id=send.id,
                    link_id=link_id,
                    url=link_url,
                    kind=link_kind,
                    label=f"link {link_id}",
                    source_number=number,
                )
            )
        world = World(brief_id, slug, send.id, batch.id)
        topic_rows = [s.get(Topic, t) for t in topics]
        for i in range(subscribers):
            email = f"{email_prefix}{i}@example.org"
            sub = Subscriber(
                email=email,
                email_key=email,
                status="active",
                secret=f"secret-{i:02d}-{email}",
                topics=[t for t in topic_rows if t is not None],
            )
            s.add(sub)
            s.flush()
            delivery = Delivery(
                send_id=send.id,
                brief_id=brief_id,
                batch_id=batch.id,
                subscriber_id=sub.id,
                email=email,
                topics=";".join(topics),
                due_at=T0,
                status=delivery_status,
                accepted_at=accepted_at,
            )
            s.add(delivery)
            s.flush()
            world.subscribers.append(sub.id)
            world.secrets[sub.id] = sub.secret
            world.emails[sub.id] = email
            world.deliveries[sub.id] = delivery.id
        return world
