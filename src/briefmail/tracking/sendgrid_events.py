"""SendGrid's Event Webhook: its key, its signature, its events.

SendGrid signs `timestamp + body` with ECDSA P-256 and sends the signature and the
timestamp in two headers. The headers and the timestamp's freshness are checked
before the body is read (`check_headers`), so an unsigned or replayed request costs
us no upload; the signature over the body is checked next (`verify_request`), and
only then is the body parsed, with limits (`webhook_json`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from briefmail.db.models import ATTEMPT_KEY_CHARS
from briefmail.errors import ConfigError
from briefmail.tracking.events import DeliveryEvent, EventKind, ParsedBatch, Refusal, SignatureError
from briefmail.tracking.webhook_json import load_array, unstorable

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_AGE_SECONDS = 600  # a signed request older than this is a replay
MAX_FUTURE_SECONDS = 60  # clock skew we forgive; beyond it the timestamp is forged
MAX_SIGNATURE_CHARS = 200  # an ECDSA P-256 signature is about 96 characters of base64
CUSTOM_ARGS = ("send_id", "batch_id", "delivery_id", "subscriber_id", "attempt_key")
_MAX_EMAIL = 320
_MAX_TEXT = 200  # an id, type or reason kept (ProviderEvent.provider_event_id holds 200)

KINDS: Mapping[str, EventKind] = {
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


def check_headers(
    key: ec.EllipticCurvePublicKey | None, headers: Mapping[str, str], now: datetime
) -> None:
    """SignatureError unless the request is signed at a fresh time: needs no body."""
    _signature_and_stamp(key, headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER), now)


def verify_request(
    key: ec.EllipticCurvePublicKey | None, headers: Mapping[str, str], body: bytes, now: datetime
) -> None:
    verify_sendgrid(
        key,
        signature=headers.get(SIGNATURE_HEADER),
        timestamp=headers.get(TIMESTAMP_HEADER),
        body=body,
        now=now,
    )


def verify_sendgrid(
    key: ec.EllipticCurvePublicKey | None,
    *,
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    now: datetime,
) -> None:
    """Raise SignatureError unless `body` is signed by `key` at a fresh `timestamp`."""
    public_key, raw_signature = _signature_and_stamp(key, signature, timestamp, now)
    assert timestamp is not None  # checked above
    try:
        public_key.verify(raw_signature, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureError("bad signature") from None


def _signature_and_stamp(
    key: ec.EllipticCurvePublicKey | None,
    signature: str | None,
    timestamp: str | None,
    now: datetime,
) -> tuple[ec.EllipticCurvePublicKey, bytes]:
    if key is None or not signature or not timestamp:
        raise SignatureError("unsigned")
    if len(signature) > MAX_SIGNATURE_CHARS or len(timestamp) > 20:
        raise SignatureError("malformed")
    try:
        stamp = int(timestamp.strip())
        raw_signature = base64.b64decode(signature.strip(), validate=True)
    except (ValueError, binascii.Error):
        raise SignatureError("malformed") from None
    age = now.timestamp() - stamp
    if age > MAX_AGE_SECONDS or age < -MAX_FUTURE_SECONDS:
        raise SignatureError("stale")
    return key, raw_signature


def parse_sendgrid(body: bytes) -> ParsedBatch:
    """The events of one webhook batch, and the items of it that cannot be stored.

    InvalidInputError when the body is not a JSON list within the parser's limits."""
    batch = ParsedBatch([], [], [])
    for index, item in enumerate(load_array(body)):
        reason = unstorable(item)
        if reason is None:
            batch.events.append(sendgrid_event(item))
            batch.positions.append(index)
        else:
            batch.refused.append(Refusal(index, reason))
    return batch


def sendgrid_event(raw: Mapping[str, Any]) -> DeliveryEvent:
    name = str(raw.get("event", ""))
    args = custom_args(raw)
    email = raw.get("email")
    # Longer than any address: not one, and never cut down into someone else's.
    address = str(email) if email else None
    return DeliveryEvent(
        provider="sendgrid",
        kind=KINDS.get(name, EventKind.UNKNOWN),
        name=name[:40],
        email=address if address and len(address) <= _MAX_EMAIL else None,
        occurred_at=_timestamp(raw.get("timestamp")),
        provider_event_id=_short(raw.get("sg_event_id")),
        send_id=_int(args.get("send_id")),
        batch_id=_int(args.get("batch_id")),
        delivery_id=_int(args.get("delivery_id")),
        subscriber_id=_int(args.get("subscriber_id")),
        attempt_key=_attempt_key(args.get("attempt_key")),
        bounce_type=_short(raw.get("type")),
        reason=_short(raw.get("reason")),
        dedupe_key=_dedupe_key(raw, args),
        raw=raw,
    )


def custom_args(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """Where an event's custom_args are: SendGrid merges them into the event; some
    relays nest them under `custom_args` instead."""
    nested = raw.get("custom_args")
    return nested if isinstance(nested, dict) else raw


def _attempt_key(value: Any) -> str | None:
    """The attempt key as stored with the event; one longer than any key briefmail
    makes (`models.ATTEMPT_KEY_CHARS`) names no attempt of ours, so it is none."""
    key = str(value) if value else None
    return key if key and len(key) <= ATTEMPT_KEY_CHARS else None


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
        return value if 0 <= value < 1 << 63 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def _short(value: Any) -> str | None:
    return None if value is None else str(value)[:_MAX_TEXT]
