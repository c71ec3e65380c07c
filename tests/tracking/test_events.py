"""SendGrid events: signature checks, parsing into one type, idempotent one-way updates."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from briefmail.db.models import Delivery, ProviderEvent, Subscriber, Suppression
from briefmail.db.session import session_scope
from briefmail.errors import ConfigError, InvalidInputError
from briefmail.tracking.events import EventKind, SignatureError, apply_events
from briefmail.tracking.sendgrid_events import load_public_key, parse_sendgrid, verify_sendgrid
from tests.tracking.factories import build_world

NOW = datetime(2024, 1, 8, 10, 0, tzinfo=UTC)


def key_pair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(der).decode()


def signed(private: ec.EllipticCurvePrivateKey, body: bytes, when: datetime) -> tuple[str, str]:
    timestamp = str(int(when.timestamp()))
    signature = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode(), timestamp


def test_signature_accepts_a_fresh_signed_body_and_refuses_the_rest() -> None:
    private, public = key_pair()
    key = load_public_key(public)
    body = b'[{"event":"delivered"}]'
    signature, timestamp = signed(private, body, NOW)
    verify_sendgrid(key, signature=signature, timestamp=timestamp, body=body, now=NOW)
    other, _ = key_pair()
    wrong_signature, _ = signed(other, body, NOW)
    refused = [
        dict(signature=None, timestamp=timestamp, body=body, now=NOW),
        dict(signature=signature, timestamp=None, body=body, now=NOW),
        dict(signature=signature, timestamp=timestamp, body=body + b" ", now=NOW),
        dict(signature=signature, timestamp=str(int(timestamp) + 1), body=body, now=NOW),
        dict(signature=wrong_signature, timestamp=timestamp, body=body, now=NOW),
        dict(signature="not base64!", timestamp=timestamp, body=body, now=NOW),
        dict(signature=signature, timestamp="soon", body=body, now=NOW),
        dict(signature=signature, timestamp=timestamp, body=body, now=NOW + timedelta(minutes=11)),
        dict(signature=signature, timestamp=timestamp, body=body, now=NOW - timedelta(minutes=5)),
    ]
    for case in refused:
        with pytest.raises(SignatureError):
            verify_sendgrid(key, **case)
    with pytest.raises(SignatureError):
        verify_sendgrid(None, signature=signature, timestamp=timestamp, body=body, now=NOW)


def test_a_malformed_configured_key_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="BRIEFMAIL_SENDGRID_WEBHOOK_PUBLIC_KEY"):
        load_public_key("not a key")


def test_parse_into_one_type_with_the_raw_event_kept() -> None:
    body = json.dumps(
        [
            {
                "event": "bounce",
                "type": "blocked",
                "email": "a@x.org",
                "timestamp": 1704708000,
                "send_id": "3",
                "delivery_id": "9",
                "batch_id": "4",
                "attempt_key": "k1",
                "sg_event_id": "e1",
                "reason": "550 blocked",
            },
            {"event": "brand_new_kind", "email": "a@x.org", "timestamp": 1704708000},
            {"event": "delivered", "custom_args": {"send_id": 3, "delivery_id": "x1"}},
        ]
    ).encode()
    bounce, odd, nested = parse_sendgrid(body).events
    assert bounce.kind is EventKind.BOUNCE
    assert not bounce.hard_bounce
    assert (bounce.send_id, bounce.batch_id, bounce.delivery_id) == (3, 4, 9)
    assert bounce.attempt_key == "k1"
    assert bounce.provider_event_id == "e1"
    assert bounce.occurred_at == datetime(2024, 1, 8, 10, 0, tzinfo=UTC)
    assert bounce.raw["reason"] == "550 blocked"
    assert odd.kind is EventKind.UNKNOWN
    assert odd.name == "brand_new_kind"
    assert nested.send_id == 3
    assert nested.delivery_id is None


@pytest.mark.parametrize(
    "body", [b"", b"{", b'{"event": "x"}', b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000]
)
def test_bad_bodies_are_invalid_input(body: bytes) -> None:
    with pytest.raises(InvalidInputError):
        parse_sendgrid(body)


def test_items_that_cannot_be_stored_are_refused_alone() -> None:
    deep: object = "x"
    for _ in range(40):
        deep = [deep]
    items = [
        1,
        {"event": "open", "email": "a\u0000@x.org"},
        {"event": "open", "deep": deep},
        {"event": "open", "reason": "\ud800"},
        {},
    ]
    body = json.dumps(items).encode()[:-1] + b', {"timestamp": 1e400}, {"n": NaN}]'
    batch = parse_sendgrid(body)
    assert [(r.index, r.reason) for r in batch.refused] == [
        (0, "expected an object"),
        (1, "a NUL character or an unpaired surrogate"),
        (2, "nested deeper than 16 levels"),
        (3, "a NUL character or an unpaired surrogate"),
        (5, "a number out of range"),
        (6, "a number out of range"),
    ]
    assert batch.positions == [4]


def test_the_dedupe_key_ignores_the_event_id_but_not_the_content() -> None:
    base = {"event": "delivered", "email": "a@x.org", "timestamp": 1, "delivery_id": "5"}
    first, retried, other = parse_sendgrid(
        json.dumps(
            [
                {**base, "sg_event_id": "one"},
                {**base, "sg_event_id": "two"},
                {**base, "sg_event_id": "one", "timestamp": 2},
            ]
        ).encode()
    ).events
    assert first.dedupe_key == retried.dedupe_key != other.dedupe_key


def event(world, sub: int, name: str, ts: int = 1704708000, **extra) -> dict:
    return {
        "event": name,
        "email": world.emails[sub],
        "timestamp": ts,
        "send_id": str(world.send_id),
        "batch_id": str(world.batch_id),
        "delivery_id": str(world.deliveries[sub]),
        "subscriber_id": str(sub),
        "attempt_key": "a" * 32,
        "sg_event_id": f"{name}-{ts}",
        **extra,
    }


def apply(url: str, raw_events: list[dict]):
    with session_scope(url) as s:
        events = parse_sendgrid(json.dumps(raw_events).encode()).events
        return apply_events(s, events, received_at=NOW)


def deliveries(url: str) -> dict[int, tuple[str, datetime | None]]:
    """Subscriber -> their delivery's status and when its last event happened."""
    with session_scope(url) as s:
        rows = s.execute(select(Delivery.subscriber_id, Delivery.status, Delivery.last_event_at))
        return {sub: (status, at) for sub, status, at in rows}


def statuses(url: str) -> dict[int, str]:
    with session_scope(url) as s:
        return {k: v for k, v in s.execute(select(Delivery.subscriber_id, Delivery.status))}


def test_events_move_deliveries_forward_only_and_replays_change_nothing(db_url) -> None:
    world = build_world(db_url, delivery_status="queued")
    a, b, c = world.subscribers
    batch = [
        event(world, a, "processed"),
        event(world, a, "delivered", 1704708060),
        event(world, b, "delivered"),
        event(world, b, "deferred", 1704708001, attempt="2"),  # late: must not go back
        event(world, c, "processed"),
    ]
    assert apply(db_url, batch) == 5
    assert statuses(db_url) == {a: "delivered", b: "delivered", c: "accepted"}
    before = deliveries(db_url)
    again = apply(db_url, [{**e, "sg_event_id": e["sg_event_id"] + "-retry"} for e in batch])
    assert again == 0
    assert deliveries(db_url) == before
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(ProviderEvent)) == 5
        row = s.scalars(select(ProviderEvent).where(ProviderEvent.event == "processed")).first()
        assert row.batch_id == world.batch_id
        assert row.payload["attempt_key"] == "a" * 32
        d = s.get(Delivery, world.deliveries[a])
        assert d.delivered_at is not None
        assert d.accepted_at is not None


def test_each_event_is_stored_with_the_attempt_key_of_its_custom_args(db_url) -> None:
    world = build_world(db_url)
    a, b, c = world.subscribers
    merged = event(world, a, "processed", attempt_key="k-merged")
    nested = {
        "event": "processed",
        "email": world.emails[b],
        "timestamp": 1704708000,
        "custom_args": {"batch_id": world.batch_id, "attempt_key": "k-nested"},
    }
    # Top-level keys are not custom_args when a relay nests them: its nested ones count.
    relayed = {**nested, "email": world.emails[c], "attempt_key": "k-top", "custom_args": {}}
    foreign = event(world, c, "delivered", attempt_key="x" * 65)  # longer than any of ours
    keyless = event(world, c, "open")
    del keyless["attempt_key"]
    apply(db_url, [merged, nested, relayed, foreign, keyless])
    with session_scope(db_url) as s:
        stored = dict(
            s.execute(
                select(ProviderEvent.email, ProviderEvent.attempt_key).where(
                    ProviderEvent.event == "processed"
                )
            ).all()
        )
        others = s.execute(
            select(ProviderEvent.event, ProviderEvent.attempt_key).where(
                ProviderEvent.event != "processed"
            )
        ).all()
    assert stored == {
        world.emails[a]: "k-merged",
        world.emails[b]: "k-nested",
        world.emails[c]: None,
    }
    assert sorted(others) == [("delivered", None), ("open", None)]


def test_send_id_must_match_the_delivery(db_url) -> None:
    world = build_world(db_url)
    a = world.subscribers[0]
    assert apply(db_url, [event(world, a, "delivered", send_id=str(world.send_id + 1))]) == 1
    assert deliveries(db_url)[a] == ("accepted", None)


def test_hard_bounce_and_spam_report_suppress_at_once(db_url) -> None:
    world = build_world(db_url)
    a, b, c = world.subscribers
    apply(
        db_url,
        [
            event(world, a, "bounce", type="bounce", reason="550 no such user"),
            event(world, b, "spamreport"),
            event(world, c, "bounce", type="blocked", reason="421 try later"),
        ],
    )
    assert statuses(db_url) == {a: "bounced", b: "complained", c: "bounced"}
    with session_scope(db_url) as s:
        suppressed = {k: v for k, v in s.execute(select(Suppression.email_key, Suppression.reason))}
        subscribers = {k: v for k, v in s.execute(select(Subscriber.id, Subscriber.status))}
    assert set(suppressed) == {world.emails[a], world.emails[b]}
    assert "550 no such user" in suppressed[world.emails[a]]
    assert subscribers == {a: "bounced", b: "complained", c: "active"}


def test_unsubscribe_event_unsubscribes(db_url) -> None:
    world = build_world(db_url)
    a = world.subscribers[0]
    apply(db_url, [event(world, a, "unsubscribe")])
    with session_scope(db_url) as s:
        assert s.get(Subscriber, a).status == "unsubscribed"
        assert s.scalar(select(func.count()).select_from(Suppression)) == 0
    assert statuses(db_url)[a] == "unsubscribed"


def test_events_without_our_ids_are_stored_and_change_nothing(db_url) -> None:
    world = build_world(db_url)
    before = deliveries(db_url)
    assert (
        apply(db_url, [{"event": "open", "email": "x@y.org", "timestamp": 5}, {"event": "?"}]) == 2
    )
    assert deliveries(db_url) == before
    assert set(statuses(db_url).values()) == {"accepted"}
    assert world.send_id
