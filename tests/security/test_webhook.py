"""Tripping the SendGrid webhook: making it read big unsigned bodies, or answer 500 to
a validly signed batch forever (SendGrid retries it for a day, and the batch's
bounces are never applied)."""

from __future__ import annotations

import json
import logging
import socket
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from briefmail import clock
from briefmail.db.models import ProviderEvent, Subscriber, Suppression
from briefmail.db.session import session_scope
from tests.tracking.factories import build_world
from tests.tracking.test_events import key_pair, signed

LIMIT = 1024 * 1024  # the documented cap (README): SendGrid batches at 768 kB
SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


def bounce(world) -> dict:
    sub = world.subscribers[0]
    return {
        "event": "bounce",
        "type": "bounce",
        "email": world.emails[sub],
        "timestamp": 1704708000,
        "send_id": str(world.send_id),
        "delivery_id": str(world.deliveries[sub]),
        "sg_event_id": "b1",
        "reason": "550 no such user",
    }


def post(server, private, body: bytes, when=None) -> httpx.Response:
    signature, timestamp = signed(private, body, when or clock.now())
    headers = {SIGNATURE: signature, TIMESTAMP: timestamp, "content-type": "application/json"}
    return httpx.post(f"{server.url}/webhooks/sendgrid", content=body, headers=headers, timeout=60)


def bounced(url: str, world) -> bool:
    with session_scope(url) as s:
        suppressed = s.scalar(select(func.count()).select_from(Suppression))
        return s.get(Subscriber, world.subscribers[0]).status == "bounced" and suppressed == 1


def events_stored(url: str) -> int:
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(ProviderEvent)) or 0


def answer_without_a_body(port: int, headers: dict[str, str]) -> bytes:
    """Send the headers of a 500 kB POST, then nothing: what comes back, within 10 s."""
    lines = [
        "POST /webhooks/sendgrid HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        "Content-Length: 500000",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            return sock.recv(4096)
        except TimeoutError:
            return b""


def test_unsigned_and_stale_requests_are_refused_before_their_body_is_read(
    db_url, start_server
) -> None:
    private, public = key_pair()
    server = start_server(sendgrid_webhook_public_key=public)
    signature, stale = signed(private, b"[]", clock.now() - timedelta(minutes=20))
    for headers in (
        {},
        {SIGNATURE: signature, TIMESTAMP: stale},
        {SIGNATURE: "%%", TIMESTAMP: "1"},
    ):
        started = time.monotonic()
        answer = answer_without_a_body(server.port, headers)
        assert answer.startswith(b"HTTP/1.1 403"), (headers, answer[:80])
        assert time.monotonic() - started < 5


def test_bodies_over_the_limit_are_refused(db_url, start_server) -> None:
    world = build_world(db_url)
    private, public = key_pair()
    server = start_server(sendgrid_webhook_public_key=public)
    one = json.dumps(bounce(world)).encode()
    big = b"[" + b",".join([one] * (LIMIT // len(one) + 1)) + b"]"
    assert post(server, private, big).status_code == 413
    assert events_stored(db_url) == 0
    fits = b"[" + b",".join([one] * (800_000 // len(one))) + b"]"  # SendGrid's 768 kB batch
    assert post(server, private, fits).status_code == 200


def test_a_body_nested_too_deep_is_a_400_not_a_500(db_url, start_server, caplog) -> None:
    private, public = key_pair()
    server = start_server(sendgrid_webhook_public_key=public)
    with caplog.at_level(logging.WARNING, logger="briefmail.web.webhooks"):
        answer = post(server, private, b"[" * 100_000 + b"]" * 100_000)
    assert answer.status_code == 400
    assert "nested too deep" in caplog.text
    assert events_stored(db_url) == 0


@pytest.mark.parametrize(
    "poison",
    [
        b'{"event": "open", "email": "a@example.org", "timestamp": 1e400}',  # only infinity
        b'{"event": "open", "email": "a@example.org", "n": -1e400}',
        b'{"event": "open", "email": "a\\u0000@example.org", "timestamp": 1}',  # PostgreSQL
        b'{"event": "open", "reason": "550 \\u0000", "timestamp": 1}',
        b'{"event": "open", "email": "a@example.org", "pool": ' + b"[" * 200 + b"]" * 200 + b"}",
        b'{"event": "open", "reason": "\\ud800", "timestamp": 1}',
        b'{"event": "open", "delivery_id": 123456789012345678901234567890123}',
        b'"not an event"',
    ],
)
def test_an_event_that_cannot_be_stored_is_refused_alone(
    db_url, start_server, caplog, poison: bytes
) -> None:
    """The rest of the batch, here a hard bounce, is applied; the answer is a 400
    naming the refused event, never a 500, and the refusal is logged."""
    world = build_world(db_url)
    private, public = key_pair()
    server = start_server(sendgrid_webhook_public_key=public)
    body = b"[" + poison + b"," + json.dumps(bounce(world)).encode() + b"]"
    with caplog.at_level(logging.WARNING, logger="briefmail.web.webhooks"):
        answer = post(server, private, body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["refused"][0]["index"] == 0
    assert "event 0 refused" in caplog.text
    assert bounced(db_url, world)
    assert events_stored(db_url) == 1
    assert post(server, private, body).status_code == 400  # SendGrid's retry: nothing more
    assert events_stored(db_url) == 1
