"""Starting a send: render once, snapshot the audience into the ledger, in chunks.

Claiming a due send renders it and stores the email on the send row (one short
transaction). Then the claiming worker reads the audience once (the segment query
minus an anti-join on everyone who already has a live delivery of this brief, from
any send) and writes the ledger a chunk of batches at a time, each chunk one
transaction holding its batches and their delivery rows, so other workers start
sending the first batches while later ones are still being written.

Nothing here is a cursor that could skip anyone. A chunk is all-or-nothing; the
send row says who is writing its ledger (`snapshot_by`, with a heartbeat in
`snapshot_at`) until the last chunk clears it, and `send_states.finish_send` never closes a
send whose ledger is unfinished. If the writer dies, another worker takes over and
simply reads the audience again: the anti-join leaves out everyone already written,
so resuming is the same code as starting. Rows go in with ON CONFLICT DO NOTHING on
the unique (brief_id, subscriber_id) index, so a concurrent send of the same brief
can never put anybody in line twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from itertools import islice
from typing import Any, cast

from sqlalchemy import Table, exists, func, insert, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from briefmail import clock
from briefmail.audience.segment import audience_select
from briefmail.briefs.store import parsed, topic_slugs
from briefmail.db.dialect import begin_write, bulk_insert_ignoring, rowcount, skip_locked
from briefmail.db.models import Batch, Delivery, Send, SendLink, SendStatus
from briefmail.render.email import render_email
from briefmail.sending import failures, send_states, sendgrid_limits, worker_liveness
from briefmail.sending.batch_states import BATCH
from briefmail.sending.batching import PlannedBatch, plan_batches
from briefmail.sending.options import SendOptions
from briefmail.sending.scheduling import EARLIEST_OFFSET, wall_clock, zone

DELIVERIES = cast(Table, Delivery.__table__)
TEST_PREFIX = "[TEST] "
# Local-time sends are snapshotted up to this long before their slot instant.
_LOCAL_LEAD = timedelta(hours=27)
# Batches per ledger transaction: small enough that sending starts at once.
CHUNK_BATCHES = 10

# (subscriber_id, email, name, matched topics, due_at)
Person = tuple[int | None, str, str, str, datetime]


def snapshot_at(send: Send) -> datetime:
    """When the send's ledger is built: its time, or the first zone's for local time."""
    scheduled = clock.as_utc(send.scheduled_for)
    if not send.local_time:
        return scheduled
    day = scheduled.astimezone(zone(send.local_timezone or "UTC")).date()
    at = time.fromisoformat(send.local_time_of_day or "09:00")
    return datetime.combine(day, at, tzinfo=UTC) - EARLIEST_OFFSET


@dataclass(frozen=True, slots=True)
class StartFailed:
    """A due send that could not be started: it failed alone, with this reason."""

    send_id: int
    reason: str


def claim_due_send(
    session: Session,
    *,
    now: datetime,
    options: SendOptions,
    owner: str,
    check_fit: bool = False,
) -> int | StartFailed | None:
    """Take a send whose ledger needs writing: a due scheduled send (rendered and
    stored here) or one whose ledger writer has stopped (see `worker_liveness.silent`).
    Commits; the send id, `StartFailed`, or None when there is none.

    A send that cannot be rendered (or, with `check_fit`, whose brief cannot fit one
    recipient's values in a SendGrid personalization) fails here, before any link,
    batch or delivery row is written, whatever the exception: otherwise it would stay
    due, first in line on every tick, and no other send would ever go out (sends made
    by the weekly slot, or while another backend was configured, reach no other check).
    """
    begin_write(session)
    query = (
        select(Send)
        .where(Send.status == SendStatus.SCHEDULED, Send.scheduled_for <= now + _LOCAL_LEAD)
        .order_by(Send.scheduled_for, Send.id)
    )
    for send in session.execute(skip_locked(session, query, Send)).scalars():
        if snapshot_at(send) <= now:
            send_id = send.id
            try:
                _start(session, send, now=now, options=options, owner=owner, check_fit=check_fit)
            except Exception as exc:
                session.rollback()
                if failures.is_database_error(exc):
                    raise
                reason = failures.describe(exc)
                send_states.fail_send(session, send_id, f"could not start: {reason}", now=now)
                return StartFailed(send_id, reason)
            session.commit()
            return send_id
    stalled = select(Send).where(
        Send.status == SendStatus.SENDING,
        Send.snapshot_by.is_not(None),
        worker_liveness.silent(Send.snapshot_by, now=now, lease_seconds=options.lease_seconds),
    )
    for send in session.execute(skip_locked(session, stalled, Send)).scalars():
        send.snapshot_by = owner
        send.snapshot_at = now
        session.commit()
        return send.id
    session.rollback()
    return None


def _start(
    session: Session,
    send: Send,
    *,
    now: datetime,
    options: SendOptions,
    owner: str,
    check_fit: bool = False,
) -> None:
    """Render once and store the email, its links and the text it came from on the send."""
    rendered = render_email(
        parsed(send.brief),
        lang=options.lang,
        postal_address=options.postal_address,
        public_url=options.public_url,
    )
    if check_fit:
        names = [topic.name for topic in send.brief.topics]
        sendgrid_limits.require_fit(send.brief.slug, rendered, names, options)
    started = send_states.start_send(
        session,
        send.id,
        now=now,
        owner=owner,
        subject=(TEST_PREFIX if send.kind == "test" else "") + rendered.subject,
        html_template=rendered.html,
        text_template=rendered.text,
        brief_source=send.brief.source,
    )
    if not started:  # pragma: no cover - the row is locked by us
        raise RuntimeError(f"send {send.id} was no longer scheduled")
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
    session.flush()


def write_ledger(
    sessions: sessionmaker[Session],
    send_id: int,
    *,
    owner: str,
    batch_size: int,
    on_chunk: Callable[[], None] | None = None,
) -> int:
    """Write the send's remaining deliveries as batches, a chunk per transaction.

    `on_chunk` runs after each committed chunk (the worker wakes another one: there
    are batches to send now). Stops early (returning what it wrote) if the send is
    cancelled or another worker took the ledger over. Returns deliveries written.
    """
    with sessions() as session:
        send = session.get(Send, send_id)
        if send is None or send.snapshot_by != owner:
            return 0
        people = _remaining(session, send)
        first_seq = (
            session.scalar(select(func.max(Batch.seq)).where(Batch.send_id == send_id)) or 0
        ) + 1
        brief_id = send.brief_id
        session.rollback()
    plans = list(
        plan_batches(((i, p[4]) for i, p in enumerate(people)), batch_size, first_seq=first_seq)
    )
    written = 0
    chunks = iter(plans)
    while chunk := list(islice(chunks, CHUNK_BATCHES)):
        with sessions() as session:
            begin_write(session)
            count = _write_chunk(session, send_id, brief_id, chunk, people)
            # Last, so the send row stays locked only for the commit: a heartbeat, and
            # proof that nobody cancelled the send or took the ledger over meanwhile.
            alive = session.execute(
                update(Send)
                .where(
                    Send.id == send_id,
                    Send.snapshot_by == owner,
                    Send.status == SendStatus.SENDING,
                )
                .values(snapshot_at=clock.now(), recipients=Send.recipients + count)
            )
            if rowcount(alive) != 1:
                session.rollback()
                return written
            session.commit()
            written += count
        if on_chunk is not None:
            on_chunk()
    with sessions() as session:
        begin_write(session)
        session.execute(
            update(Send)
            .where(Send.id == send_id, Send.snapshot_by == owner)
            .values(snapshot_by=None, snapshot_at=clock.now())
        )
        session.commit()
    return written


def _remaining(session: Session, send: Send) -> list[Person]:
    """Who still needs a delivery row of this send, sorted by (due time, subscriber)."""
    if send.kind == "test":
        done = set(session.scalars(select(Delivery.email).where(Delivery.send_id == send.id)))
        now = clock.as_utc(send.scheduled_for)
        return [(None, a, "", "", now) for a in dict.fromkeys(send.test_to or []) if a not in done]
    audience = audience_select(topic_slugs(send.brief), send.topics_filter).subquery("audience")
    earlier = aliased(Delivery)
    already = exists().where(
        earlier.brief_id == send.brief_id,
        earlier.subscriber_id == audience.c.subscriber_id,
        earlier.status.not_in(("cancelled", "failed")),
    )
    rows = session.execute(
        select(
            audience.c.subscriber_id,
            audience.c.email,
            audience.c.name,
            audience.c.matched_topics,
            audience.c.timezone,
        ).where(~already)
    ).all()
    due_of = _due_times(send)
    people = [(sid, email, name, topics, due_of(tz)) for sid, email, name, topics, tz in rows]
    people.sort(key=lambda p: (p[4], p[0] or 0))
    return people


def _due_times(send: Send) -> Callable[[str | None], datetime]:
    """Each subscriber's due time: the send's time, or for local time the slot's wall
    clock on its date in their own zone (unknown or no zone: the slot's)."""
    scheduled = clock.as_utc(send.scheduled_for)
    if not send.local_time:
        return lambda _zone: scheduled
    default_zone = send.local_timezone or "UTC"
    day = scheduled.astimezone(zone(default_zone)).date()
    at = time.fromisoformat(send.local_time_of_day or "09:00")
    cache: dict[str | None, datetime] = {}

    def due(name: str | None) -> datetime:
        when = cache.get(name)
        if when is None:
            when = cache[name] = wall_clock(day, at, name, default_zone)
        return when

    return due


def _write_chunk(
    session: Session,
    send_id: int,
    brief_id: int,
    plans: Sequence[PlannedBatch],
    people: Sequence[Person],
) -> int:
    """Insert the chunk's batches and their deliveries; returns deliveries written."""
    batch_ids = session.scalars(
        insert(Batch).returning(Batch.id, sort_by_parameter_order=True),
        [
            {
                "send_id": send_id,
                "seq": plan.seq,
                "due_at": plan.due_at,
                "size": len(plan.delivery_ids),
                "status": BATCH.initial,
                "attempts": 0,
            }
            for plan in plans
        ],
    ).all()
    rows = [
        (send_id, brief_id, batch_id, *people[i][:4], people[i][4], "queued")
        for plan, batch_id in zip(plans, batch_ids, strict=True)
        for i in plan.delivery_ids
    ]
    _insert_deliveries(session, rows)
    planned = sum(len(plan.delivery_ids) for plan in plans)
    written = int(
        session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.batch_id.in_(batch_ids))
        )
        or 0
    )
    if written != planned:  # a concurrent send of the brief queued some of them first
        counts = select(func.count()).where(Delivery.batch_id == Batch.id).scalar_subquery()
        session.execute(update(Batch).where(Batch.id.in_(batch_ids)).values(size=counts))
    return written


_COLUMNS = (
    "send_id", "brief_id", "batch_id", "subscriber_id", "email", "name", "topics", "due_at",
    "status",
)  # fmt: skip


def _insert_deliveries(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """One bulk write per chunk; rows already live for the brief are skipped."""
    bulk_insert_ignoring(session, DELIVERIES, _COLUMNS, rows)
