"""/subscribe and /confirm/TOKEN over real HTTP: double opt-in through the outbox backend."""

from __future__ import annotations

import email
import re
import time
from email import policy
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from briefmail.audience.suppression import suppress
from briefmail.config import get_settings
from briefmail.db.models import Subscriber
from briefmail.db.session import session_scope
from briefmail.tracking.tokens import Purpose, subscriber_token
from tests.tracking.factories import build_world, ensure_topics
from tests.web.conftest import BROWSER_UA


def outbox_messages(at_least: int = 0) -> list[email.message.EmailMessage]:
    """The confirmation emails so far; waits for `at_least` of them, since they are sent
    after the answer (so that the answer cannot tell whether one was sent)."""
    folder = Path(get_settings().outbox_dir) / "send-0"
    deadline = time.monotonic() + 30
    while len(list(folder.glob("*.eml"))) < at_least and time.monotonic() < deadline:
        time.sleep(0.02)
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in sorted(folder.glob("*.eml"))
    ]


def confirm_path(message) -> str:
    text = message.get_body(("plain",)).get_content()
    match = re.search(r"https://brief\.example\.org(/confirm/\S+)", text)
    assert match, text
    return match.group(1)


def subscriber(url: str, address: str) -> Subscriber | None:
    with session_scope(url) as s:
        row = s.scalars(select(Subscriber).where(Subscriber.email_key == address.lower())).first()
        if row is not None:
            row.topic_slugs = sorted(t.slug for t in row.topics)  # type: ignore[attr-defined]
        return row


def test_sign_up_is_pending_until_the_link_is_followed(db_url, start_server) -> None:
    ensure_topics(db_url)
    server = start_server()
    form = httpx.get(f"{server.url}/subscribe")
    assert form.status_code == 200
    assert 'name="email"' in form.text
    answer = httpx.post(
        f"{server.url}/subscribe",
        data={"email": "New.Reader@Example.ORG", "name": "Ann", "topics": ["accreditation"]},
    )
    assert answer.status_code == 200
    assert "Check your inbox" in answer.text
    row = subscriber(db_url, "new.reader@example.org")
    assert row.status == "pending"
    assert row.topic_slugs == ["accreditation"]
    [message] = outbox_messages(1)
    assert message["To"].addresses[0].addr_spec == "New.Reader@example.org"
    assert "/u/" in message["List-Unsubscribe"]
    path = confirm_path(message)
    confirmed = httpx.get(server.url + path, headers={"user-agent": BROWSER_UA})
    assert confirmed.status_code == 200
    assert "You are subscribed" in confirmed.text
    assert subscriber(db_url, "new.reader@example.org").status == "active"
    assert httpx.get(server.url + path[:-2], headers={"user-agent": BROWSER_UA}).status_code == 404


def test_a_scanner_following_the_link_gets_a_button_not_a_subscription(
    db_url, start_server
) -> None:
    server = start_server()
    httpx.post(f"{server.url}/subscribe", data={"email": "scan@example.org"})
    path = confirm_path(outbox_messages(1)[0])
    for headers in (
        {"user-agent": "Mimecast URL protect"},
        {"user-agent": BROWSER_UA, "sec-purpose": "prefetch"},
    ):
        page = httpx.get(server.url + path, headers=headers)
        assert page.status_code == 200
        assert "Yes, subscribe me" in page.text
        assert subscriber(db_url, "scan@example.org").status == "pending"
    assert httpx.head(server.url + path).status_code == 200
    assert subscriber(db_url, "scan@example.org").status == "pending"
    mac = re.search(r'name="form_mac" value="([0-9a-f]+)"', page.text).group(1)
    assert httpx.post(server.url + path, data={"form_mac": "0" * 32}).status_code == 403
    done = httpx.post(server.url + path, data={"form_mac": mac})
    assert done.status_code == 200
    assert "You are subscribed" in done.text
    assert subscriber(db_url, "scan@example.org").status == "active"


def test_an_active_subscriber_is_not_changed_and_the_answer_is_the_same(
    db_url, start_server
) -> None:
    world = build_world(db_url, subscribers=1)
    sub = world.subscribers[0]
    server = start_server()
    fresh = httpx.post(f"{server.url}/subscribe", data={"email": "someone.new@example.org"})
    known = httpx.post(
        f"{server.url}/subscribe",
        data={"email": world.emails[sub], "name": "Mallory", "topics": "accreditation"},
    )
    assert known.status_code == fresh.status_code == 200
    assert known.text == fresh.text
    row = subscriber(db_url, world.emails[sub])
    assert (row.status, row.name, row.topic_slugs) == ("active", "", ["learning-design"])
    assert len(outbox_messages(1)) == 1  # only the new address was mailed


def test_unsubscribed_addresses_need_the_confirmation_again(db_url, start_server) -> None:
    world = build_world(db_url, subscribers=1)
    sub = world.subscribers[0]
    with session_scope(db_url) as s:
        s.get(Subscriber, sub).status = "unsubscribed"
    server = start_server()
    httpx.post(f"{server.url}/subscribe", data={"email": world.emails[sub]})
    assert subscriber(db_url, world.emails[sub]).status == "pending"  # still gets nothing
    [message] = outbox_messages(1)
    httpx.get(server.url + confirm_path(message), headers={"user-agent": BROWSER_UA})
    assert subscriber(db_url, world.emails[sub]).status == "active"


def test_suppressed_addresses_are_never_mailed(db_url, start_server) -> None:
    with session_scope(db_url) as s:
        suppress(s, "gone@example.org", "hard bounce")
    server = start_server()
    answer = httpx.post(f"{server.url}/subscribe", data={"email": "gone@example.org"})
    assert answer.status_code == 200
    assert "Check your inbox" in answer.text
    assert subscriber(db_url, "gone@example.org") is None
    assert outbox_messages() == []


def test_repeated_sign_ups_send_one_email_per_interval(db_url, start_server) -> None:
    server = start_server()
    for _ in range(3):
        httpx.post(f"{server.url}/subscribe", data={"email": "again@example.org"})
    assert len(outbox_messages(1)) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not-an-address"}, "valid email address"),
        ({"email": ""}, "valid email address"),
        ({"email": "ok@example.org", "topics": "no-such-topic"}, "unknown topic"),
    ],
)
def test_bad_sign_ups_are_400_and_store_nothing(db_url, start_server, data, message) -> None:
    ensure_topics(db_url)
    server = start_server()
    answer = httpx.post(f"{server.url}/subscribe", data=data)
    assert answer.status_code == 400
    assert message in answer.text
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_bodies_methods_bots_and_floods(db_url, start_server) -> None:
    server = start_server()
    big = httpx.post(
        f"{server.url}/subscribe",
        content=b"email=" + b"a" * 40_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert big.status_code == 413
    assert httpx.post(f"{server.url}/subscribe", json={"email": "x@y.org"}).status_code == 400
    assert httpx.delete(f"{server.url}/subscribe").status_code == 405
    trap = httpx.post(
        f"{server.url}/subscribe", data={"email": "bot@example.org", "website": "http://spam"}
    )
    assert trap.status_code == 200
    assert subscriber(db_url, "bot@example.org") is None
    codes = [
        httpx.post(f"{server.url}/subscribe", data={"email": f"r{i}@example.org"}).status_code
        for i in range(12)
    ]
    assert 429 in codes
    assert codes[0] == 200


def test_confirm_tokens_of_other_kinds_are_404(db_url, start_server) -> None:
    world = build_world(db_url, subscribers=1)
    sub = world.subscribers[0]
    keys = get_settings().signing_keys()
    server = start_server()
    wrong = subscriber_token(keys, Purpose.UNSUBSCRIBE, sub, world.secrets[sub])
    assert httpx.get(f"{server.url}/confirm/{wrong}").status_code == 404
    right = subscriber_token(keys, Purpose.CONFIRM, sub, world.secrets[sub])
    assert httpx.put(f"{server.url}/confirm/{right}").status_code == 405
