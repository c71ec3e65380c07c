"""POST /webhooks/sendgrid over real HTTP, signed with a key pair made here."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, text

from briefmail import clock
from briefmail.db.models import Delivery, ProviderEvent, Subscriber, Suppression
from briefmail.db.session import get_engine, session_scope
from tests.tracking.factories import build_world
from tests.tracking.test_events import key_pair, signed


def events_for(world) -> list[dict]:
    a, b, _ = world.subscribers
    common = {"send_id": str(world.send_id), "batch_id": str(world.batch_id), "attempt_key": "k"}
    return [
        {
            "event": "delivered",
            "email": world.emails[a],
            "timestamp": 1704708000,
            "delivery_id": str(world.deliveries[a]),
            "sg_event_id": "d1",
            **common,
        },
        {
            "event": "bounce",
            "type": "bounce",
            "email": world.emails[b],
            "timestamp": 1704708001,
            "delivery_id": str(world.deliveries[b]),
            "sg_event_id": "b1",
            "reason": "550",
            **common,
        },
    ]


def counts(url: str) -> tuple[int, int]:
    with session_scope(url) as s:
        return (
            s.scalar(select(func.count()).select_from(ProviderEvent)),
            s.scalar(select(func.count()).select_from(Suppression)),
        )


def post(server, private, body: bytes, when=None, **headers):
    signature, timestamp = signed(private, body, when or clock.now())
    sent = {
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "content-type": "application/json",
        **headers,
    }
    return httpx.post(f"{server.url}/webhooks/sendgrid", content=body, headers=sent)


def test_signed_batch_is_applied_once_and_replays_change_nothing(db_url, start_server) -> None:
    world = build_world(db_url)
    private, public = key_pair()
    server = start_server(sendgrid_webhook_public_key=public)
    body = json.dumps(events_for(world)).encode()
    answer = post(server, private, body)
    assert answer.status_code == 200
    assert answer.json() == {"received": 2, "new": 2}
    a, b, _ = world.subscribers
    with session_scope(db_url) as s:
        assert s.get(Delivery, world.deliveries[a]).status == "delivered"
        assert s.get(Delivery, world.deliveries[b]).status == "bounced"
        assert s.get(Subscriber, b).status == "bounced"
    assert counts(db_url) == (2, 1)
    assert post(server, private, body).json() == {"received": 2, "new": 0}
    retried = json.dumps(
        [{**e, "sg_event_id": e["sg_event_id"] + "-new"} for e in events_for(world)]
    ).encode()
    assert post(server, private, retried).json() == {"received": 2, "new": 0}
    assert counts(db_url) == (2, 1)


def test_refusals_are_all_the_same_403(db_url, start_server) -> None:
    world = build_world(db_url)
    private, public = key_pair()
    stranger, _ = key_pair()
    server = start_server(sendgrid_webhook_public_key=public)
    body = json.dumps(events_for(world)).encode()
    url = f"{server.url}/webhooks/sendgrid"
    good_signature, good_timestamp = signed(private, body, clock.now())
    answers = [
        httpx.post(url, content=body),  # unsigned
        httpx.post(
            url,
            content=body + b" ",
            headers={  # tampered body
                "X-Twilio-Email-Event-Webhook-Signature": good_signature,
                "X-Twilio-Email-Event-Webhook-Timestamp": good_timestamp,
            },
        ),
        httpx.post(
            url,
            content=body,
            headers={  # signature without timestamp
                "X-Twilio-Email-Event-Webhook-Signature": good_signature
            },
        ),
        post(server, stranger, body),  # someone else's key
        post(server, private, body, when=clock.now() - timedelta(minutes=11)),  # stale
        post(server, private, body, when=clock.now() + timedelta(minutes=10)),  # future
        httpx.post(
            url,
            content=body,
            headers={
                "X-Twilio-Email-Event-Webhook-Signature": "%%%",
                "X-Twilio-Email-Event-Webhook-Timestamp": good_timestamp,
            },
        ),
    ]
    assert {(a.status_code, a.text) for a in answers} == {(403, "Forbidden\n")}
    assert counts(db_url) == (0, 0)


def test_no_configured_key_refuses_everything(db_url, start_server) -> None:
    world = build_world(db_url)
    private, _ = key_pair()
    server = start_server(sendgrid_webhook_public_key="")
    assert post(server, private, json.dumps(events_for(world)).encode()).status_code == 403


@pytest.mark.parametrize("body", [b"not json", b'{"event": "delivered"}', b"[1, 2]", b""])
def test_signed_bad_bodies_are_400(db_url, start_server, body) -> None:
    private, public = key_pair()
    server = start_server(sendgrid_webhook_public_key=public)
    assert post(server, private, body).status_code == 400
    assert counts(db_url) == (0, 0)


def test_oversized_and_wrong_methods(db_url, start_server) -> None:
    private, public = key_pair()
    server = start_server(sendgrid_webhook_public_key=public)
    huge = b"[" + b'{"event":"open"},' * 600_000 + b'{"event":"open"}]'
    assert post(server, private, huge).status_code == 413
    for method in ("GET", "PUT", "DELETE"):
        assert httpx.request(method, f"{server.url}/webhooks/sendgrid").status_code == 405
    assert counts(db_url) == (0, 0)


@pytest.fixture
def poison_refused(db_url):
    """The database itself refuses any event named "poison" (a constraint no check of
    ours knows about), as it might refuse some data nobody foresaw."""
    engine = get_engine(db_url)  # migrated first (SQLite upgrades itself)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "ALTER TABLE provider_events ADD CONSTRAINT ck_test_poison "
                    "CHECK (event <> 'poison') NOT VALID"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER test_poison BEFORE INSERT ON provider_events "
                    "WHEN NEW.event = 'poison' BEGIN SELECT RAISE(ABORT, 'poison'); END"
                )
            )
    yield
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE provider_events DROP CONSTRAINT ck_test_poison"))
        else:
            conn.execute(text("DROP TRIGGER test_poison"))


def test_an_event_the_database_refuses_is_refused_alone(
    db_url, start_server, poison_refused
) -> None:
    world = build_world(db_url)
    private, public = key_pair()
    server = start_server(sendgrid_webhook_public_key=public)
    batch = [{"event": "poison", "email": "x@example.org", "timestamp": 1}, *events_for(world)]
    answer = post(server, private, json.dumps(batch).encode())
    assert answer.status_code == 400
    assert answer.json()["new"] == 2
    [refused] = answer.json()["refused"]
    assert refused["index"] == 0
    assert "database refused" in refused["reason"]
    assert counts(db_url) == (2, 1)  # the delivery and the bounce (and its suppression)
