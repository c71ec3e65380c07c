"""Provider events: one `DeliveryEvent` type, and applying events to the ledger.

Providers post batches of events to `/webhooks/{provider}`. The pipeline is the one
django-anymail taught: verify the request (a bad signature, a missing one and a stale
one get the same refusal, so a prober learns nothing), parse each provider event into
one normalised type with the raw event kept, unknown kinds mapped to `unknown` rather
than a crash; then apply. A provider supplies its part as a `WebhookProvider`
(`tracking.providers`); SendGrid's is `tracking.sendgrid_events`.

Applying is idempotent. Every event is stored as a `ProviderEvent` under a hash of its
own content (SendGrid may retry a batch with new `sg_event_id`s, so the id alone does
not deduplicate), and only new events change anything. Changes are one-way: a
delivery's status only moves forward in `models.DELIVERY_STATUSES`, so replays and
out-of-order batches cannot undo a bounce. A hard bounce or a spam report puts the
address on the suppression list at once. Each event is stored with the attempt key
of the request it reports (read once, here, from its custom_args), so the sending
ledger finds the events of a batch's attempts by column (`sending.evidence`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from briefmail.audience.subscribers import normalise_email
from briefmail.audience.suppression import suppress
from briefmail.db.dialect import insert_new
from briefmail.db.models import DELIVERY_STATUSES, Delivery, ProviderEvent, Subscriber
from briefmail.errors import BriefmailError, InvalidInputError


class SignatureError(BriefmailError):
    """The request is unsigned, tampered or stale. The web layer answers 403, always alike."""


class EventKind(StrEnum):
    PROCESSED = "processed"
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    BOUNCE = "bounce"
    DROPPED = "dropped"
    SPAMREPORT = "spamreport"
    UNSUBSCRIBE = "unsubscribe"
    RESUBSCRIBE = "resubscribe"
    OPEN = "open"
    CLICK = "click"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    """One provider event, normalised; `raw` is the event exactly as received."""

    provider: str
    kind: EventKind
    name: str  # the provider's own event name
    email: str | None
    occurred_at: datetime | None
    provider_event_id: str | None
    send_id: int | None
    batch_id: int | None
    delivery_id: int | None
    subscriber_id: int | None
    attempt_key: str | None  # which request of its batch the event is about
    bounce_type: str | None  # SendGrid: "bounce" (hard) or "blocked" (soft)
    reason: str | None
    dedupe_key: str
    raw: Mapping[str, Any]

    @property
    def hard_bounce(self) -> bool:
        return self.kind is EventKind.BOUNCE and (self.bounce_type or "bounce") == "bounce"


@dataclass(frozen=True, slots=True)
class Refusal:
    """An item of a batch that cannot be stored: its place in the batch and why."""

    index: int
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    """A batch's storable events, the place of each in the batch, and the rest."""

    events: list[DeliveryEvent]
    positions: list[int]
    refused: list[Refusal]


PublicKey = ec.EllipticCurvePublicKey


@dataclass(frozen=True, slots=True)
class WebhookProvider:
    """What a provider supplies: its key format, request checks and event parser.

    `check_headers` needs no body, so a request that is not signed at a fresh time is
    refused before its body is read; `verify` checks the signature over the body."""

    load_key: Callable[[str], PublicKey]
    check_headers: Callable[[PublicKey | None, Mapping[str, str], datetime], None]
    verify: Callable[[PublicKey | None, Mapping[str, str], bytes, datetime], None]
    parse: Callable[[bytes], ParsedBatch]


# --------------------------------------------------------------------------- applying

# Which delivery status each event moves toward.
DELIVERY_TARGET: Mapping[EventKind, str] = {
    EventKind.PROCESSED: "accepted",
    EventKind.DEFERRED: "deferred",
    EventKind.DELIVERED: "delivered",
    EventKind.BOUNCE: "bounced",
    EventKind.DROPPED: "dropped",
    EventKind.SPAMREPORT: "complained",
    EventKind.UNSUBSCRIBE: "unsubscribed",
}
_RANK = {status: rank for rank, status in enumerate(DELIVERY_STATUSES)}


def moves_forward(current: str, target: str) -> bool:
    """True if `target` is further along than `current` (statuses never go back)."""
    return _RANK[target] > _RANK.get(current, -1)


def apply_events(
    session: Session, events: Sequence[DeliveryEvent], *, received_at: datetime
) -> int:
    """Store each new event and apply it; events seen before change nothing. Returns
    how many were new (the webhook's answer reports it)."""
    unique = list({e.dedupe_key: e for e in events}.values())
    rows = [
        {
            "dedupe_key": e.dedupe_key,
            "provider": e.provider,
            "event": e.name or e.kind.value,
            "provider_event_id": e.provider_event_id,
            "delivery_id": e.delivery_id,
            "batch_id": e.batch_id,
            "attempt_key": e.attempt_key,
            "email": (e.email or "")[:320] or None,
            "occurred_at": e.occurred_at,
            "payload": dict(e.raw),
            "received_at": received_at,
        }
        for e in unique
    ]
    new_keys = set(
        insert_new(
            session, ProviderEvent, rows, key="dedupe_key", returning=ProviderEvent.dedupe_key
        )
    )
    fresh = [e for e in unique if e.dedupe_key in new_keys]
    _update_deliveries(session, fresh)
    for event in fresh:
        _update_subscriber(session, event)
    return len(fresh)


def _update_deliveries(session: Session, events: Sequence[DeliveryEvent]) -> None:
    relevant = [e for e in events if e.delivery_id is not None and e.kind in DELIVERY_TARGET]
    if not relevant:
        return
    ids = sorted({e.delivery_id for e in relevant if e.delivery_id is not None})
    deliveries = {d.id: d for d in session.scalars(select(Delivery).where(Delivery.id.in_(ids)))}
    for event in relevant:
        delivery = deliveries.get(event.delivery_id or 0)
        if delivery is None or event.send_id != delivery.send_id:
            continue  # not ours, or custom_args that do not belong together
        at = event.occurred_at
        if at is not None and (delivery.last_event_at is None or _utc(delivery.last_event_at) < at):
            delivery.last_event_at = at
        if event.kind is EventKind.PROCESSED and delivery.accepted_at is None:
            delivery.accepted_at = at
        if event.kind is EventKind.DELIVERED and delivery.delivered_at is None:
            delivery.delivered_at = at
        target = DELIVERY_TARGET[event.kind]
        if moves_forward(delivery.status, target):
            delivery.status = target


def _update_subscriber(session: Session, event: DeliveryEvent) -> None:
    """Suppress and mark the subscriber on hard bounce / spam report."""
    if not event.email:
        return
    if event.hard_bounce:
        status, reason = "bounced", f"sendgrid hard bounce: {event.reason or ''}".strip(" :")
    elif event.kind is EventKind.SPAMREPORT:
        status, reason = "complained", "sendgrid spam report"
    elif event.kind is EventKind.UNSUBSCRIBE:
        status, reason = "unsubscribed", ""
    else:
        return
    try:
        _, email_key = normalise_email(event.email)
    except InvalidInputError:
        email_key = event.email.strip().lower()  # the provider's spelling still names it
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email_key == email_key))
    if subscriber is not None and _subscriber_moves(subscriber.status, status):
        subscriber.status = status
    if not reason:
        return
    # InvalidInputError: an address we could never have sent to.
    with contextlib.suppress(InvalidInputError):
        suppress(session, event.email, reason[:200])


def _subscriber_moves(current: str, target: str) -> bool:
    if target == "unsubscribed":
        return current in ("active", "pending")
    if target == "bounced":
        return current != "complained" and current != "bounced"
    return current != target  # complained is final


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
