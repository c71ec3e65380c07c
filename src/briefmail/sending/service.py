"""What the CLI asks of sending: schedule, look, cancel, resolve, drain in-process.

Plain arguments and a session in, plain values out; nothing here prints or reads
the environment.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, defer, joinedload

from briefmail import clock
from briefmail.audience.segment import narrow_topics
from briefmail.audience.subscribers import normalise_email
from briefmail.briefs.store import get_brief, parsed, topic_slugs
from briefmail.db.models import (
    DELIVERY_STATUSES,
    Batch,
    BatchStatus,
    Brief,
    Delivery,
    Send,
    SendStatus,
)
from briefmail.errors import BriefmailError, InvalidInputError, NotFoundError, StateError
from briefmail.render.email import render_email
from briefmail.sending import alarms, failures, operator_resolve, send_states, sendgrid_limits
from briefmail.sending.alarms import Alarm
from briefmail.sending.engine import Engine, next_due
from briefmail.sending.options import SendOptions

MAX_TEST_RECIPIENTS = 20
# A time this far in the past is a typo, not "now".
PAST_TOLERANCE = timedelta(minutes=5)
# Delivery statuses from `accepted` on: the provider took the message.
HANDED_OVER = DELIVERY_STATUSES[DELIVERY_STATUSES.index("accepted") :]
FINAL_SEND = (SendStatus.SENT, SendStatus.FAILED, SendStatus.CANCELLED)


class NotApprovedError(StateError):
    """Only an approved brief goes to subscribers. Each surface says how to approve in
    its own terms (a command, a button, a route), so the slug travels with the error."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        super().__init__(
            f"brief {slug!r} is a draft: it must be approved before it goes to "
            "subscribers (a proof to test addresses needs no approval)"
        )


def create_send(
    session: Session,
    slug: str,
    *,
    at: datetime,
    now: datetime,
    topics: Sequence[str] | None = None,
    by: str | None = None,
    check_fit: SendOptions | None = None,
) -> Send:
    """Schedule an approved brief for its (optionally narrowed) audience at `at`.

    With `check_fit` (the options of a SendGrid send), a brief whose per-recipient
    values SendGrid would refuse is refused here, before the send exists.
    """
    brief = get_brief(session, slug)
    if brief.status != "approved":
        raise NotApprovedError(brief.slug)
    if at.tzinfo is None:
        raise InvalidInputError("--at: give a time zone or offset")
    if at < now - PAST_TOLERANCE:
        raise InvalidInputError(f"--at: {at.isoformat()} is in the past")
    if check_fit is not None:
        _require_fit(brief, check_fit)
    narrowed = narrow_topics(session, topic_slugs(brief), topics) if topics else None
    send = send_states.new_send(
        brief_id=brief.id,
        kind="brief",
        scheduled_for=clock.as_utc(max(at, now)),
        topics_filter=narrowed,
        created_by=by,
        created_at=now,
    )
    session.add(send)
    session.flush()
    return send


def create_test_send(
    session: Session,
    slug: str,
    addresses: Sequence[str],
    *,
    now: datetime,
    by: str | None = None,
    check_fit: SendOptions | None = None,
) -> Send:
    """A proof of any brief (drafts too) to a few addresses; kept out of reports.

    `check_fit` as for `create_send`: a proof through SendGrid meets the same limits.
    """
    brief = get_brief(session, slug)
    # One per mailbox (by key): SendGrid refuses a request naming an address twice.
    by_key: dict[str, str] = {}
    for address in addresses:
        if address.strip():
            email, key = normalise_email(address)
            by_key.setdefault(key, email)
    emails = list(by_key.values())
    if not emails:
        raise InvalidInputError("--test-to: give at least one address")
    if len(emails) > MAX_TEST_RECIPIENTS:
        raise InvalidInputError(f"--test-to: at most {MAX_TEST_RECIPIENTS} addresses")
    if check_fit is not None:
        _require_fit(brief, check_fit)
    send = send_states.new_send(
        brief_id=brief.id,
        kind="test",
        scheduled_for=now,
        test_to=emails,
        created_by=by,
        created_at=now,
    )
    session.add(send)
    session.flush()
    return send


def request_send(
    session: Session,
    slug: str,
    *,
    at: datetime | None,
    now: datetime,
    topics: Sequence[str] | None = None,
    test_to: Sequence[str] | None = None,
    by: str | None = None,
    check_fit: SendOptions | None = None,
) -> Send:
    """What a person asks for: a proof to `test_to` (now, drafts too, never narrowed),
    or the approved brief to its audience at `at` (None: now), optionally narrowed."""
    if test_to is not None:
        if topics:
            raise InvalidInputError("--topics does not apply to a proof (--test-to)")
        return create_test_send(session, slug, test_to, now=now, by=by, check_fit=check_fit)
    return create_send(
        session,
        slug,
        at=now if at is None else at,
        now=now,
        topics=topics or None,
        by=by,
        check_fit=check_fit,
    )


def _require_fit(brief: Brief, options: SendOptions) -> None:
    """Render the stored brief as the send will and refuse it if SendGrid would (or if
    it cannot be rendered at all: the send would only fail at its start)."""
    try:
        rendered = render_email(
            parsed(brief),
            lang=options.lang,
            postal_address=options.postal_address,
            public_url=options.public_url,
        )
    except BriefmailError:
        raise
    except Exception as exc:
        if failures.is_database_error(exc):
            raise
        reason = failures.describe(exc)
        raise StateError(f"brief {brief.slug!r} cannot be rendered: {reason}") from None
    sendgrid_limits.require_fit(
        brief.slug, rendered, [topic.name for topic in brief.topics], options
    )


@dataclass(frozen=True, slots=True)
class SendView:
    """A send as people see it (`sends list/show`, `send --wait`)."""

    id: int
    brief: str
    kind: str
    status: SendStatus
    scheduled_for: datetime
    recipients: int
    accepted: int
    failed: int
    cancelled: int
    queued: int
    errors: list[str] = field(default_factory=list)
    # Why an accepted batch was settled as it was (an operator's verdict, or provider
    # events of an earlier attempt that stopped a resend): nothing wrong, worth knowing.
    notes: list[str] = field(default_factory=list)
    batches: dict[str, int] = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # What needs a person about this send (see `alarms`): failed, stalled, in doubt.
    alarms: list[Alarm] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.accepted + self.failed + self.cancelled

    @property
    def finished(self) -> bool:
        return self.status in FINAL_SEND and self.batches.get(BatchStatus.SENDING, 0) == 0


def _views(session: Session, sends: Sequence[Send], stall_seconds: float) -> list[SendView]:
    ids = [s.id for s in sends]
    if not ids:
        return []
    raised = alarms.for_sends(session, sends, now=clock.now(), stall_seconds=stall_seconds)
    deliveries: dict[int, dict[str, int]] = {}
    for send_id, status, count in session.execute(
        select(Delivery.send_id, Delivery.status, func.count())
        .where(Delivery.send_id.in_(ids))
        .group_by(Delivery.send_id, Delivery.status)
    ):
        deliveries.setdefault(send_id, {})[status] = count
    batches: dict[int, dict[str, int]] = {}
    for send_id, status, count in session.execute(
        select(Batch.send_id, Batch.status, func.count())
        .where(Batch.send_id.in_(ids))
        .group_by(Batch.send_id, Batch.status)
    ):
        batches.setdefault(send_id, {})[status] = count
    problems, notes = _batch_lines(session, ids)
    views = []
    for send in sends:
        counts = deliveries.get(send.id, {})
        errors = problems.get(send.id, [])
        if send.error and not errors:
            errors = [send.error]
        views.append(
            SendView(
                id=send.id,
                brief=send.brief.slug,
                kind=send.kind,
                status=send.status,
                scheduled_for=clock.as_utc(send.scheduled_for),
                recipients=send.recipients,
                accepted=sum(counts.get(s, 0) for s in HANDED_OVER),
                failed=counts.get("failed", 0),
                cancelled=counts.get("cancelled", 0),
                queued=counts.get("queued", 0),
                errors=errors,
                notes=notes.get(send.id, []),
                batches=batches.get(send.id, {}),
                started_at=clock.as_utc(send.started_at) if send.started_at else None,
                finished_at=clock.as_utc(send.finished_at) if send.finished_at else None,
                alarms=raised.get(send.id, []),
            )
        )
    return views


def _batch_lines(
    session: Session, ids: Sequence[int]
) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Per send: a line per failed or unknown batch (what is wrong or in doubt, and why
    it has not settled by itself yet), and a note per batch settled by evidence."""
    problems: dict[int, list[str]] = {}
    notes: dict[int, list[str]] = {}
    for send_id, seq, status, error, waiting in session.execute(
        select(Batch.send_id, Batch.seq, Batch.status, Batch.error, Batch.doubt_note)
        .where(
            Batch.send_id.in_(ids),
            or_(
                Batch.status.in_((BatchStatus.FAILED, BatchStatus.UNKNOWN)),
                and_(Batch.status == BatchStatus.ACCEPTED, Batch.error.is_not(None)),
            ),
        )
        .order_by(Batch.send_id, Batch.seq)
    ):
        kept = notes if status == BatchStatus.ACCEPTED else problems
        line = f"batch {seq} {status}: {error or status}"
        if status == BatchStatus.UNKNOWN and waiting:
            line += f" Now: {waiting}."
        kept.setdefault(send_id, []).append(line)
    return problems, notes


# What a send's view reads: the send without its stored email, and its brief's slug in
# the same query. The rendered email and brief source are tens of kilobytes a send
# that no view shows, and the brief's topics are a query of their own.
_FOR_VIEW = (
    defer(Send.html_template),
    defer(Send.text_template),
    defer(Send.brief_source),
    joinedload(Send.brief).load_only(Brief.slug).lazyload(Brief.topics),
)


def list_sends(
    session: Session, *, limit: int = 50, stall_seconds: float = alarms.DEFAULT_STALL_SECONDS
) -> list[SendView]:
    query = select(Send).options(*_FOR_VIEW).order_by(Send.id.desc()).limit(limit)
    return _views(session, session.scalars(query).all(), stall_seconds)


def get_send(
    session: Session, send_id: int, *, stall_seconds: float = alarms.DEFAULT_STALL_SECONDS
) -> SendView:
    send = session.scalars(select(Send).options(*_FOR_VIEW).where(Send.id == send_id)).first()
    if send is None:
        raise NotFoundError(f"no send {send_id}")
    return _views(session, [send], stall_seconds)[0]


def standing_alarms(
    session: Session, *, stall_seconds: float = alarms.DEFAULT_STALL_SECONDS
) -> list[Alarm]:
    """Alarms that belong to no send (a missed weekly slot), for `sends list`."""
    missed = alarms.slot_missed(session, now=clock.now(), stall_seconds=stall_seconds)
    return [missed] if missed is not None else []


def cancel_send(session: Session, send_id: int, *, now: datetime) -> SendView:
    send_states.cancel_send(session, send_id, now=now)
    return get_send(session, send_id)


def resolve_batch(
    session: Session,
    batch_id: int,
    *,
    accepted: bool,
    now: datetime,
    by: str = "",
    grace_seconds: float = 0.0,
) -> Batch:
    """The operator's verdict; a resend waits `grace_seconds` after the attempt in doubt."""
    batch = operator_resolve.resolve_batch(
        session, batch_id, accepted=accepted, now=now, by=by, grace_seconds=grace_seconds
    )
    send_states.finish_send(session, batch.send_id, now)
    return batch


def drain_send(
    engine: Engine,
    send_id: int,
    *,
    on_progress: Callable[[SendView], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_sleep: float = 5.0,
) -> SendView:
    """Run a send to its end in this process (no broker): snapshot, batches, retries.

    Waits for batches whose retry is due later. Stops early when the rest cannot move
    here: a batch in flight elsewhere or one whose outcome is unknown.
    """
    while True:
        engine.work()
        with engine.sessions() as session:
            view = get_send(session, send_id)
            due = next_due(session, send_id)
        if on_progress is not None:
            on_progress(view)
        if view.status == SendStatus.SCHEDULED and view.scheduled_for > clock.now():
            return view  # not yet due: a worker will take it
        if view.finished or due is None:
            return view
        sleep(min(max_sleep, max(0.05, (due - clock.now()).total_seconds())))


def wait_for_send(
    sessions: Callable[[], Session],
    send_id: int,
    *,
    on_progress: Callable[[SendView], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float = 0.5,
) -> SendView:
    """Watch a send that workers run until it ends (`send --wait` with a broker)."""
    while True:
        with sessions() as session:
            view = get_send(session, send_id)
        if on_progress is not None:
            on_progress(view)
        if view.finished:
            return view
        sleep(poll_seconds)
