"""Starting a send: render once, snapshot the audience, cut it into batches.

All of it happens in the transaction that claims the send, so a crash leaves either
a scheduled send untouched or a complete ledger, never half of one. The audience is
copied with one INSERT .. SELECT: the database does the work, nothing per recipient
passes through Python. A subscriber who already has a live delivery of this brief
(from any earlier send) is skipped by an anti-join, and the unique index on
(brief_id, subscriber_id) stops a concurrent send racing this one (ON CONFLICT DO
NOTHING): nobody is ever in line twice for the same brief.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import (
    DateTime,
    Table,
    bindparam,
    case,
    exists,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from briefmail import clock
from briefmail.audience.segment import audience_select
from briefmail.briefs.store import parsed, topic_slugs
from briefmail.db.models import Batch, Delivery, Send, SendLink
from briefmail.errors import BriefmailError
from briefmail.render.email import render_email
from briefmail.sending.batching import plan_batches
from briefmail.sending.options import SendOptions
from briefmail.sending.scheduling import EARLIEST_OFFSET, wall_clock, zone
from briefmail.sending.txn import begin_write, is_postgres, skip_locked

DELIVERIES = cast(Table, Delivery.__table__)
TEST_PREFIX = "[TEST] "
# Local-time sends are snapshotted up to this long before their slot instant.
_LOCAL_LEAD = timedelta(hours=27)


def snapshot_at(send: Send) -> datetime:
    """When the send's ledger is built: its time, or the first zone's for local time."""
    scheduled = clock.as_utc(send.scheduled_for)
    if not send.local_time:
        return scheduled
    day = scheduled.astimezone(zone(send.local_timezone or "UTC")).date()
    at = time.fromisoformat(send.local_time_of_day or "09:00")
    return datetime.combine(day, at, tzinfo=UTC) - EARLIEST_OFFSET


def claim_due_send(session: Session, *, now: datetime, options: SendOptions) -> int | None:
    """Start one due scheduled send (render, snapshot, batch) and commit; its id or None."""
    begin_write(session)
    query = (
        select(Send)
        .where(Send.status == "scheduled", Send.scheduled_for <= now + _LOCAL_LEAD)
        .order_by(Send.scheduled_for, Send.id)
    )
    for send in session.execute(skip_locked(session, query, Send)).scalars():
        if snapshot_at(send) <= now:
            break
    else:
        session.rollback()
        return None
    send_id = send.id
    try:
        prepare(session, send, now=now, options=options)
    except BriefmailError as exc:
        session.rollback()
        fail_send(session, send_id, f"could not start: {exc}", now=now)
        return send_id
    session.commit()
    return send_id


def fail_send(session: Session, send_id: int, error: str, *, now: datetime) -> None:
    begin_write(session)
    session.execute(
        update(Send)
        .where(Send.id == send_id, Send.status.in_(("scheduled", "sending")))
        .values(status="failed", error=error, finished_at=now)
    )
    session.commit()


def prepare(session: Session, send: Send, *, now: datetime, options: SendOptions) -> None:
    """Render, snapshot and batch `send` inside the caller's transaction."""
    brief_row = send.brief
    rendered = render_email(
        parsed(brief_row), lang=options.lang, postal_address=options.postal_address
    )
    send.subject = (TEST_PREFIX if send.kind == "test" else "") + rendered.subject
    send.html_template = rendered.html
    send.text_template = rendered.text
    send.status = "sending"
    send.started_at = now
    session.execute(
        insert(SendLink),
        [
            {
                "send_id": send.id,
                "link_id": link.link_id,
                "url": link.url,
                "kind": link.kind,
                "label": link.label,
                "source_number": link.source_number,
            }
            for link in rendered.links
        ],
    )
    if send.kind == "test":
        _snapshot_test(session, send, now)
    else:
        _snapshot_audience(session, send, topic_slugs(brief_row))
    send.recipients = _cut_batches(session, send.id, options.batch_size)
    if send.recipients == 0:
        send.status = "sent"
        send.finished_at = now
    session.flush()


def _snapshot_test(session: Session, send: Send, now: datetime) -> None:
    addresses = list(dict.fromkeys(send.test_to or []))
    session.execute(
        insert(Delivery),
        [
            {
                "send_id": send.id,
                "brief_id": send.brief_id,
                "subscriber_id": None,
                "email": address,
                "name": "",
                "topics": "",
                "due_at": now,
                "status": "queued",
            }
            for address in addresses
        ],
    )


def _snapshot_audience(session: Session, send: Send, brief_topics: list[str]) -> None:
    audience = audience_select(brief_topics, send.topics_filter).subquery("audience")
    due: Any = literal(clock.as_utc(send.scheduled_for), DateTime(timezone=True))
    if send.local_time:
        due = _local_due(session, send, audience)
    earlier = aliased(Delivery)
    already = exists().where(
        earlier.brief_id == send.brief_id,
        earlier.subscriber_id == audience.c.subscriber_id,
        earlier.status.not_in(("cancelled", "failed")),
    )
    rows = select(
        literal(send.id),
        literal(send.brief_id),
        audience.c.subscriber_id,
        audience.c.email,
        audience.c.name,
        audience.c.matched_topics,
        due,
        literal("queued"),
    ).where(~already)
    columns = [
        "send_id",
        "brief_id",
        "subscriber_id",
        "email",
        "name",
        "topics",
        "due_at",
        "status",
    ]
    dialect = postgresql if is_postgres(session) else sqlite
    statement = dialect.insert(DELIVERIES).from_select(columns, rows).on_conflict_do_nothing()
    session.execute(statement)


def _local_due(session: Session, send: Send, audience: Any) -> Any:
    """Each subscriber's due time: the slot's wall clock on its date in their own zone."""
    default_zone = send.local_timezone or "UTC"
    day = clock.as_utc(send.scheduled_for).astimezone(zone(default_zone)).date()
    at = time.fromisoformat(send.local_time_of_day or "09:00")
    zones = [z for z in session.scalars(select(audience.c.timezone).distinct()) if z]
    whens = [
        (
            audience.c.timezone == name,
            literal(wall_clock(day, at, name, default_zone), DateTime(timezone=True)),
        )
        for name in zones
    ]
    fallback = literal(wall_clock(day, at, None, default_zone), DateTime(timezone=True))
    return case(*whens, else_=fallback) if whens else fallback


def _cut_batches(session: Session, send_id: int, size: int) -> int:
    """Batches of <= `size` deliveries sharing one due time; returns the recipient count."""
    rows = session.execute(
        select(Delivery.id, Delivery.due_at)
        .where(Delivery.send_id == send_id)
        .order_by(Delivery.due_at, Delivery.id)
    ).all()
    if not rows:
        return 0
    plans = list(plan_batches(((r[0], r[1]) for r in rows), size))
    ids = session.scalars(
        insert(Batch).returning(Batch.id, sort_by_parameter_order=True),
        [
            {
                "send_id": send_id,
                "seq": p.seq,
                "due_at": p.due_at,
                "size": len(p.delivery_ids),
                "status": "pending",
            }
            for p in plans
        ],
    ).all()
    single_due = len({r[1] for r in rows}) == 1
    if single_due:
        # One due time: every batch is a contiguous id range of this send.
        session.execute(
            update(DELIVERIES)
            .where(
                DELIVERIES.c.send_id == bindparam("s"),
                DELIVERIES.c.id.between(bindparam("lo"), bindparam("hi")),
            )
            .values(batch_id=bindparam("b")),
            [
                {"s": send_id, "lo": p.delivery_ids[0], "hi": p.delivery_ids[-1], "b": batch_id}
                for p, batch_id in zip(plans, ids, strict=True)
            ],
        )
    else:
        for plan, batch_id in zip(plans, ids, strict=True):
            session.execute(
                update(DELIVERIES)
                .where(DELIVERIES.c.id.in_(plan.delivery_ids))
                .values(batch_id=batch_id)
            )
    return len(rows)
