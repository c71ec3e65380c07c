"""Provider events: verify, parse into one `DeliveryEvent` type, apply.

SendGrid posts batches of events to `/webhooks/sendgrid`. The pipeline is the one
django-anymail taught: verify the request (a bad signature, a missing one and a stale
one get the same refusal, so a prober learns nothing), parse each provider event into
one normalised type with the raw event kept, unknown kinds mapped to `unknown` rather
than a crash; then apply.

Applying is idempotent. Every event is stored as a `ProviderEvent` under a hash of its
own content (SendGrid may retry a batch with new `sg_event_id`s, so the id alone does
not deduplicate), and only new events change anything. Changes are one-way: a
delivery's status only moves forward in `models.DELIVERY_STATUSES`, so replays and
out-of-order batches cannot undo a bounce. A hard bounce or a spam report puts the
address on the suppression list at once; the sending ledger reads stored
`processed`/`delivered` events of a batch's attempt key to settle unknown batches.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from briefmail.audience.subscribers import normalise_email
from briefmail.audience.suppression import suppress
from briefmail.db.models import DELIVERY_STATUSES, Delivery, ProviderEvent, Subscriber
from briefmail.errors import BriefmailError, ConfigError, InvalidInputError
from briefmail.tracking.inserts import insert_new

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_AGE_SECONDS = 600  # a signed request older than this is a replay
MAX_FUTURE_SECONDS = 60  # clock skew we forgive; beyond it the timestamp is forged
CUSTOM_ARGS = ("send_id", "batch_id", "delivery_id", "subscriber_id", "attempt_key")


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
    attempt: str | None
    bounce_type: str | None  # SendGrid: "bounce" (hard) or "blocked" (soft)
    reason: str | None
    dedupe_key: str
    raw: Mapping[str, Any]

    @property
    def hard_bounce(self) -> bool:
        return self.kind is EventKind.BOUNCE and (self.bounce_type or "bounce") == "bounce"


# --------------------------------------------------------------------------- SendGrid

SENDGRID_KINDS: Mapping[str, EventKind] = {
    "processed": EventKind.PROCESSED,
    "deferred": EventKind.DEFERRED,
    "delivered": EventKind.DELIVERED,
    "bounce": EventKind.BOUNCE,
    "dropped": EventKind.DROPPED,
    "spamreport": EventKind.SPAMREPORT,
    "unsubscribe": EventKind.UNSUBSCRIBE,
    "group_unsubscribe": EventKind.UNSUBSCRIBE,
    "group_resubscribe": EventKind.RESUBSCRIBE,
    "open": EventKind.OPEN,
    "click": EventKind.CLICK,
}


def load_public_key(b64_der: str) -> ec.EllipticCurvePublicKey:
    """The verification key from its base64 DER form, as SendGrid shows it."""
    try:
        key = serialization.load_der_public_key(base64.b64decode(b64_der.strip(), validate=True))
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(
            f"BRIEFMAIL_SENDGRID_WEBHOOK_PUBLIC_KEY: not a base64 DER public key ({exc})"
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ConfigError("BRIEFMAIL_SENDGRID_WEBHOOK_PUBLIC_KEY: not an ECDSA P-256 key")
    return key


def verify_sendgrid(
    key: ec.EllipticCurvePublicKey | None,
    *,
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    now: datetime,
) -> None:
    """Raise SignatureError unless `body` is signed by `key` at a fresh `timestamp`."""
    if key is None or not signature or not timestamp:
        raise SignatureError("unsigned")
    try:
        stamp = int(timestamp.strip())
        raw_signature = base64.b64decode(signature.strip(), validate=True)
    except (ValueError, binascii.Error):
        raise SignatureError("malformed") from None
    age = now.timestamp() - stamp
    if age > MAX_AGE_SECONDS or age < -MAX_FUTURE_SECONDS:
        raise SignatureError("stale")
    try:
        key.verify(raw_signature, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureError("bad signature") from None


def parse_sendgrid(body: bytes) -> list[DeliveryEvent]:
    """The events of one webhook batch; InvalidInputError if it is not a JSON list of objects."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise InvalidInputError("body: not JSON") from None
    if not isinstance(data, list):
        raise InvalidInputError("body: expected a JSON list of events")
    events = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise InvalidInputError(f"body[{index}]: expected an object")
        events.append(sendgrid_event(item))
    return events


def sendgrid_event(raw: Mapping[str, Any]) -> DeliveryEvent:
    name = str(raw.get("event", ""))
    # SendGrid merges custom_args into the event; some relays nest them instead.
    nested = raw.get("custom_args")
    args: Mapping[str, Any] = nested if isinstance(nested, dict) else raw
    email = raw.get("email")
    occurred = _timestamp(raw.get("timestamp"))
    return DeliveryEvent(
        provider="sendgrid",
        kind=SENDGRID_KINDS.get(name, EventKind.UNKNOWN),
        name=name[:40],
        email=str(email) if email else None,
        occurred_at=occurred,
        provider_event_id=_short(raw.get("sg_event_id")),
        send_id=_int(args.get("send_id")),
        batch_id=_int(args.get("batch_id")),
        delivery_id=_int(args.get("delivery_id")),
        subscriber_id=_int(args.get("subscriber_id")),
        attempt=_short(args.get("attempt_key")),
        bounce_type=_short(raw.get("type")),
        reason=_short(raw.get("reason")),
        dedupe_key=_dedupe_key(raw, args),
        raw=raw,
    )


def _dedupe_key(raw: Mapping[str, Any], args: Mapping[str, Any]) -> str:
    """Hash of what the event says, not of its id: a retried batch hashes the same."""
    content = {
        "event": raw.get("event"),
        "email": str(raw.get("email", "")).lower(),
        "timestamp": raw.get("timestamp"),
        "sg_message_id": raw.get("sg_message_id"),
        "custom_args": {name: args.get(name) for name in CUSTOM_ARGS},
        "reason": raw.get("reason"),
        "status": raw.get("status"),
        "type": raw.get("type"),
        "response": raw.get("response"),
        "url": raw.get("url"),
    }
    text = json.dumps(content, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _timestamp(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def _short(value: Any, limit: int = 200) -> str | None:
    return None if value is None else str(value)[:limit]


def verify_sendgrid_request(
    key: ec.EllipticCurvePublicKey | None, headers: Mapping[str, str], body: bytes, now: datetime
) -> None:
    verify_sendgrid(
        key,
        signature=headers.get(SIGNATURE_HEADER),
        timestamp=headers.get(TIMESTAMP_HEADER),
        body=body,
        now=now,
    )


@dataclass(frozen=True, slots=True)
class WebhookProvider:
    """What a provider supplies: its key format, request check and event parser."""

    load_key: Callable[[str], ec.EllipticCurvePublicKey]
    verify: Callable[[ec.EllipticCurvePublicKey | None, Mapping[str, str], bytes, datetime], None]
    parse: Callable[[bytes], list[DeliveryEvent]]


# A new provider is a new entry here, not a new branch in the web layer.
PROVIDERS: Mapping[str, WebhookProvider] = {
    "sendgrid": WebhookProvider(load_public_key, verify_sendgrid_request, parse_sendgrid),
}


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


@dataclass(frozen=True, slots=True)
class ApplyResult:
    received: int
    new: int
    deliveries_updated: int
    suppressed: int


def apply_events(
    session: Session, events: Sequence[DeliveryEvent], *, received_at: datetime
) -> ApplyResult:
    """Store each new event and apply it; events seen before change nothing."""
    unique = list({e.dedupe_key: e for e in events}.values())
    rows = [
        {
            "dedupe_key": e.dedupe_key,
            "provider": e.provider,
            "event": e.name or e.kind.value,
            "provider_event_id": e.provider_event_id,
            "delivery_id": e.delivery_id,
            "batch_id": e.batch_id,
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
    updated = _update_deliveries(session, fresh)
    suppressed = 0
    for event in fresh:
        suppressed += _update_subscriber(session, event)
    return ApplyResult(len(events), len(fresh), updated, suppressed)


def _update_deliveries(session: Session, events: Sequence[DeliveryEvent]) -> int:
    relevant = [e for e in events if e.delivery_id is not None and e.kind in DELIVERY_TARGET]
    if not relevant:
        return 0
    ids = sorted({e.delivery_id for e in relevant if e.delivery_id is not None})
    deliveries = {d.id: d for d in session.scalars(select(Delivery).where(Delivery.id.in_(ids)))}
    changed: set[int] = set()
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
            changed.add(delivery.id)
    return len(changed)


def _update_subscriber(session: Session, event: DeliveryEvent) -> int:
    """Suppress and mark the subscriber on hard bounce / spam report; 1 if newly suppressed."""
    if not event.email:
        return 0
    if event.hard_bounce:
        status, reason = "bounced", f"sendgrid hard bounce: {event.reason or ''}".strip(" :")
    elif event.kind is EventKind.SPAMREPORT:
        status, reason = "complained", "sendgrid spam report"
    elif event.kind is EventKind.UNSUBSCRIBE:
        status, reason = "unsubscribed", ""
    else:
        return 0
    try:
        _, email_key = normalise_email(event.email)
    except InvalidInputError:
        email_key = event.email.strip().lower()  # the provider's spelling still names it
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email_key == email_key))
    if subscriber is not None and _subscriber_moves(subscriber.status, status):
        subscriber.status = status
    if not reason:
        return 0
    try:
        return int(suppress(session, event.email, reason[:200]).created)
    except InvalidInputError:
        return 0  # an address we could never have sent to


def _subscriber_moves(current: str, target: str) -> bool:
    if target == "unsubscribed":
        return current in ("active", "pending")
    if target == "bounced":
        return current != "complained" and current != "bounced"
    return current != target  # complained is final


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
