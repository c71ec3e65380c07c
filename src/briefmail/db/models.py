"""The schema, in one place.

Alembic migrations under `db/migrations/` are the only way this schema reaches a
database; `tests/db/test_migrations.py` fails when a model and the migrations disagree.

Status columns are plain strings constrained by CHECKs, so SQLite and PostgreSQL
behave alike and a new state is a migration, not an enum type dance. A send's and a
batch's status reads back as its `StrEnum` member (`StatusType`), and a value outside
the enum is refused before it reaches the database; their transitions are tables in
`briefmail.sending.send_states` and `briefmail.sending.batch_states`.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from briefmail import clock

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; BIGINT stays BIGINT on PostgreSQL.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


def _check(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=name)


SUBSCRIBER_STATUSES = ("pending", "active", "unsubscribed", "bounced", "complained")
BRIEF_STATUSES = ("draft", "approved")
SEND_KINDS = ("brief", "test")


class SendStatus(StrEnum):
    """Where a send is; the moves between them: `sending.send_states.SEND_EDGES`."""

    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class BatchStatus(StrEnum):
    """Where a batch is; the moves between them: `sending.batch_states.BATCH_EDGES`."""

    PENDING = "pending"
    SENDING = "sending"
    ACCEPTED = "accepted"
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"


SEND_STATUSES = tuple(SendStatus)
BATCH_STATUSES = tuple(BatchStatus)
# May still be sent or accepted.
OPEN_BATCH = (BatchStatus.PENDING, BatchStatus.SENDING, BatchStatus.UNKNOWN)
# Delivery states, ordered by how final they are; webhook events only move a row forward.
DELIVERY_STATUSES = (
    "queued",
    "cancelled",
    "failed",
    "accepted",
    "deferred",
    "delivered",
    "dropped",
    "bounced",
    "unsubscribed",
    "complained",
)
LINK_KINDS = ("source", "cta", "citation", "honeypot")
ATTEMPT_KEY_CHARS = 64  # a batch's attempt key (a uuid4 hex) and any event's that can be ours
# Deliveries that hold a subscriber's one place in line for a brief: cancelled and
# refused (failed) ones never reached anybody, so a later send may queue them again.
LIVE_DELIVERY = "subscriber_id IS NOT NULL AND status NOT IN ('cancelled', 'failed')"


class StatusType(TypeDecorator[StrEnum]):
    """A status column: stored as the plain string (as the CHECK lists it), read back
    as the enum member; a value the enum does not name is refused on the way in."""

    impl = String(20)
    cache_ok = True

    def __init__(self, enum: type[StrEnum]) -> None:
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(value)

    @property
    def python_type(self) -> type[StrEnum]:
        return self.enum


class Topic(Base):
    __tablename__ = "topics"

    slug: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


subscriber_topics = Table(
    "subscriber_topics",
    Base.metadata,
    Column(
        "subscriber_id", BigId, ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("topic_slug", String(80), ForeignKey("topics.slug"), primary_key=True),
    Index("ix_subscriber_topics_topic_slug", "topic_slug", "subscriber_id"),
)

brief_topics = Table(
    "brief_topics",
    Base.metadata,
    Column("brief_id", BigId, ForeignKey("briefs.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_slug", String(80), ForeignKey("topics.slug"), primary_key=True),
)


class Subscriber(Base):
    __tablename__ = "subscribers"
    __table_args__ = (
        _check("status", SUBSCRIBER_STATUSES, "status"),
        # Audience queries read only active subscribers, in id order, with email_key
        # for the suppression anti-join: this index answers them without the table.
        Index(
            "ix_subscribers_active",
            "id",
            "email_key",
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # As given, trimmed, domain lower-cased.
    email: Mapped[str] = mapped_column(String(320))
    # Fully lower-cased: uniqueness is case-insensitive.
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    # Signs this subscriber's unsubscribe and preference links; rotating it revokes them.
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    topics: Mapped[list[Topic]] = relationship(secondary=subscriber_topics, lazy="selectin")


class SignupRequest(Base):
    """A sign-up waiting for its owner: kept apart from subscribers, so asking changes
    no subscriber (not a status, a name or a topic) until the confirmation link's page
    is submitted. One row per address; it is deleted when confirmed."""

    __tablename__ = "signup_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    # Topic slugs asked for ([] = every topic): what the confirmation page offers first.
    topics: Mapped[list[str]] = mapped_column(JSON)
    # Signs this request's confirmation link; a new one when the request starts over.
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    # Confirmation emails sent since `window_started_at`, and the last one.
    mails: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime | None]
    mailed_at: Mapped[datetime | None]


class Suppression(Base):
    """Addresses no send may ever reach, whatever a later import says."""

    __tablename__ = "suppressions"

    email_key: Mapped[str] = mapped_column(String(320), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Brief(Base):
    __tablename__ = "briefs"
    __table_args__ = (_check("status", BRIEF_STATUSES, "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    source_path: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    coverage_start: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    topics: Mapped[list[Topic]] = relationship(secondary=brief_topics, lazy="selectin")


class WeeklySlot(Base):
    """The standing weekly slot; at most one row is active."""

    __tablename__ = "weekly_slots"
    __table_args__ = (CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    weekday: Mapped[int] = mapped_column(Integer)  # Monday = 0
    time_of_day: Mapped[str] = mapped_column(String(5))  # HH:MM
    timezone: Mapped[str] = mapped_column(String(64))
    local_time: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Send(Base):
    """One brief going to one audience (or a proof to a few addresses).

    The rendered email is stored here at snapshot time so every batch, on any worker,
    sends the same bytes and nobody re-renders per recipient.
    """

    __tablename__ = "sends"
    __table_args__ = (
        _check("status", SEND_STATUSES, "status"),
        _check("kind", SEND_KINDS, "kind"),
        Index("ix_sends_status_scheduled_for", "status", "scheduled_for"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brief_id: Mapped[int] = mapped_column(ForeignKey("briefs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="brief")
    status: Mapped[SendStatus] = mapped_column(StatusType(SendStatus), default=SendStatus.SCHEDULED)
    scheduled_for: Mapped[datetime]
    local_time: Mapped[bool] = mapped_column(Boolean, default=False)
    # Slot wall-clock time ("09:00") and default zone for local-time sends.
    local_time_of_day: Mapped[str | None] = mapped_column(String(5))
    local_timezone: Mapped[str | None] = mapped_column(String(64))
    topics_filter: Mapped[list[str] | None] = mapped_column(JSON)
    test_to: Mapped[list[str] | None] = mapped_column(JSON)
    weekly_slot_id: Mapped[int | None] = mapped_column(ForeignKey("weekly_slots.id"))
    subject: Mapped[str | None] = mapped_column(Text)
    html_template: Mapped[str | None] = mapped_column(Text)
    text_template: Mapped[str | None] = mapped_column(Text)
    # The brief's text this send rendered: the public archive shows what went out,
    # even after the brief is edited (and so back to draft).
    brief_source: Mapped[str | None] = mapped_column(Text)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    # Who is writing this send's ledger (NULL once every delivery is written) and its
    # last progress: the ledger is written in chunks so batches go out meanwhile.
    snapshot_by: Mapped[str | None] = mapped_column(String(200))
    snapshot_at: Mapped[datetime | None]

    brief: Mapped[Brief] = relationship(lazy="joined")


class SendLink(Base):
    """Every tracked destination of one send; a click token names a row, never a URL."""

    __tablename__ = "send_links"
    __table_args__ = (_check("kind", LINK_KINDS, "kind"),)

    send_id: Mapped[int] = mapped_column(
        ForeignKey("sends.id", ondelete="CASCADE"), primary_key=True
    )
    link_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(10))
    label: Mapped[str] = mapped_column(Text, default="")
    source_number: Mapped[int | None] = mapped_column(Integer)


class Batch(Base):
    """At most `batch_size` deliveries sent in one provider request.

    The ledger's unit of work: its status is committed before the request
    (`sending`) and after it (`accepted`/`failed`); a batch found `sending` with no
    live owner has an unknown outcome and is settled, never blindly resent.
    """

    __tablename__ = "batches"
    __table_args__ = (
        _check("status", BATCH_STATUSES, "status"),
        UniqueConstraint("send_id", "seq", name="uq_batches_send_id_seq"),
        Index("ix_batches_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    send_id: Mapped[int] = mapped_column(ForeignKey("sends.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[BatchStatus] = mapped_column(
        StatusType(BatchStatus), default=BatchStatus.PENDING
    )
    size: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None]
    # Unique per attempt; sent in custom_args so events can settle an unknown outcome.
    attempt_key: Mapped[str | None] = mapped_column(String(ATTEMPT_KEY_CHARS))
    # The keys of this batch's attempts before the current one, oldest first: events
    # carrying one prove an earlier request went out, so the batch must not go again.
    earlier_attempt_keys: Mapped[list[str] | None] = mapped_column(JSON)
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    accepted_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    doubt_note: Mapped[str | None] = mapped_column(Text)  # while unknown: why it still waits
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class Delivery(Base):
    """One recipient of one send: the per-recipient ledger row.

    For real (non-test) sends, (brief_id, subscriber_id) is unique among live rows
    (not cancelled, not refused), so no subscriber can ever be put in line for the
    same brief twice, however often it is sent.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        _check("status", DELIVERY_STATUSES, "status"),
        Index(
            "uq_deliveries_brief_subscriber",
            "brief_id",
            "subscriber_id",
            unique=True,
            sqlite_where=text(LIVE_DELIVERY),
            postgresql_where=text(LIVE_DELIVERY),
        ),
        Index("ix_deliveries_send_id_status", "send_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    send_id: Mapped[int] = mapped_column(ForeignKey("sends.id", ondelete="CASCADE"))
    brief_id: Mapped[int] = mapped_column(ForeignKey("briefs.id"))
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("batches.id", ondelete="SET NULL"), index=True
    )
    # NULL for proofs sent with --test-to.
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    # The subscriber's topics that matched the brief, ';'-joined slugs ("" = all topics).
    topics: Mapped[str] = mapped_column(Text, default="")
    # When this recipient is due (local-time sends spread over the day).
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="queued")
    error: Mapped[str | None] = mapped_column(Text)
    accepted_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_event_at: Mapped[datetime | None]


class Click(Base):
    """One click on a tracked link, as the redirect saw it and the classifier judged it.

    Clicks are written at redirect rates, so the table has one index, its key: the
    send (reports read one send's clicks) and the event key the redirect made
    (`tracking.clicks.new_event_key`), so a click stored twice (a retried batch, a
    stream entry drained twice) is stored once. No foreign key to `sends`: checking it
    was two thirds of PostgreSQL's time per stored click (bench/redirect.py), and the
    send exists by construction (the redirect found the destination among its links;
    sends are never deleted). A surrogate id and more indexes cost most of the rest.
    """

    __tablename__ = "clicks"

    send_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    link_id: Mapped[int] = mapped_column(Integer)
    subscriber_id: Mapped[int | None] = mapped_column(BigId)
    clicked_at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(10), default="GET")
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    automated: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why it was filtered (None for a human click): head, scanner-ua, window, network, ...
    reason: Mapped[str | None] = mapped_column(String(40))


class ProviderEvent(Base):
    """Every webhook event received, for idempotency and audit."""

    __tablename__ = "provider_events"
    # Finds the events of a batch's attempts (sending.evidence); batch_id leads, so it
    # also serves every lookup by batch alone.
    __table_args__ = (Index("ix_provider_events_batch_id_attempt_key", "batch_id", "attempt_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Hash of the event's own content (not only sg_event_id: SendGrid may retry with a new one).
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[str] = mapped_column(String(20), default="sendgrid")
    event: Mapped[str] = mapped_column(String(40))
    provider_event_id: Mapped[str | None] = mapped_column(String(200))
    delivery_id: Mapped[int | None] = mapped_column(BigId, index=True)
    batch_id: Mapped[int | None] = mapped_column(BigId)
    # The custom_args attempt key the request was sent with (None: not one of ours).
    attempt_key: Mapped[str | None] = mapped_column(String(ATTEMPT_KEY_CHARS))
    email: Mapped[str | None] = mapped_column(String(320))
    occurred_at: Mapped[datetime | None]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=clock.now)


# People, console sessions, API tokens and the audit log (briefmail.accounts).
USER_ROLES = ("editor", "marketing", "admin")
AUDIT_ACTOR_KINDS = ("user", "token", "cli")


class User(Base):
    """A person who signs in to the console; `email` is stored lower-cased."""

    __tablename__ = "users"
    __table_args__ = (_check("role", USER_ROLES, "role"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class ConsoleSession(Base):
    """One signed-in browser; only the SHA-256 of its cookie value is stored."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_seen_at: Mapped[datetime] = mapped_column(default=clock.now)
    ended_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    user: Mapped[User] = relationship(lazy="joined")


class SignInAttempt(Base):
    """Recent console sign-ins, counted to throttle guessing (per account and per IP)."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        Index("ix_sign_in_attempts_email_at", "email", "at"),
        Index("ix_sign_in_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(index=True)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(Base):
    """A bearer token for the REST API; only the SHA-256 of the token is stored.

    Names are unique among live tokens, so a revoked token's name can be reused.
    """

    __tablename__ = "api_tokens"
    __table_args__ = (
        Index(
            "uq_api_tokens_live_name",
            "name",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AuditEntry(Base):
    """One action someone took; rows are only ever inserted (the migration adds
    triggers that refuse UPDATE and DELETE on both databases)."""

    __tablename__ = "audit_log"
    __table_args__ = (_check("actor_kind", AUDIT_ACTOR_KINDS, "actor_kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_kind: Mapped[str] = mapped_column(String(10))
    # Who, as they were named then (a user's email, a token's name, the OS user):
    # no foreign key, so removing a user or revoking a token leaves the record intact.
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(400), default="")
    # From where: the client IP, or "cli".
    source: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Worker(Base):
    """One engine's life (a worker process start, a command sending in-process): claims
    name its random id, and its heartbeat says whether it still holds them. Host and
    pid are for people only; containers share and reuse them."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]  # a clean stop: nothing waits out the lease


class AlarmNotice(Base):
    """An alarm incident mailed to BRIEFMAIL_ALERT_TO: keyed by incident, mailed once."""

    __tablename__ = "alarm_notices"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    send_id: Mapped[int | None] = mapped_column(BigId)
    message: Mapped[str] = mapped_column(Text)
    # The mail's: events carrying it show it went.
    attempt_key: Mapped[str] = mapped_column(String(ATTEMPT_KEY_CHARS))
    raised_at: Mapped[datetime]
    claimed_at: Mapped[datetime]
    mailed_at: Mapped[datetime | None]
