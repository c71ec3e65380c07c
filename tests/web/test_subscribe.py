"""/subscribe and /confirm/TOKEN over real HTTP: double opt-in through the outbox backend."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from briefmail import clock
from briefmail.audience.signups import EXPIRES_AFTER
from briefmail.audience.suppression import suppress
from briefmail.config import get_settings
from briefmail.db.models import SignupRequest, Subscriber
from briefmail.db.session import session_scope
from briefmail.tracking.tokens import Purpose, signup_token, subscriber_token
from tests.tracking.factories import build_world, ensure_topics
from tests.web.conftest import BROWSER_UA
from tests.web.signups import confirm_path, outbox_messages, press_confirm, subscriber


def requests_stored(url: str) -> int:
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(SignupRequest)) or 0


def test_a_sign_up_subscribes_once_its_owner_confirms(db_url, start_server) -> None:
    ensure_topics(db_url)
    server = start_server()
    form = httpx.get(f"{server.url}/subscribe")
    assert form.status_code == 200
    assert 'name="email"' in form.text
    answer = httpx.post(
        f"{server.url}/subscribe",
        data={"email": "New.Reader@Example.ORG", "topics": ["accreditation"]},
    )
    assert answer.status_code == 200
    assert "Check your inbox" in answer.text
    assert subscriber(db_url, "new.reader@example.org") is None  # a request, not a subscriber
    assert requests_stored(db_url) == 1
    [message] = outbox_messages(1)
    assert message["To"].addresses[0].addr_spec == "New.Reader@example.org"
    path = confirm_path(message)
    page = httpx.get(server.url + path, headers={"user-agent": BROWSER_UA})
    assert "Yes, subscribe me" in page.text
    assert 'value="accreditation" checked' in page.text  # what was asked for, ticked
    assert subscriber(db_url, "new.reader@example.org") is None
    done = press_confirm(server.url, path, name="Ann", topics=("learning-design",))
    assert done.status_code == 200
    assert "You are subscribed" in done.text
    assert "/preferences/" in done.text
    assert subscriber(db_url, "new.reader@example.org") == ("active", "Ann", ["learning-design"])
    assert requests_stored(db_url) == 0  # used up: the link now leads nowhere
    assert httpx.get(server.url + path, headers={"user-agent": BROWSER_UA}).status_code == 404


def test_no_topic_ticked_means_every_topic(db_url, start_server) -> None:
    ensure_topics(db_url)
    server = start_server()
    httpx.post(f"{server.url}/subscribe", data={"email": "all@example.org"})
    assert press_confirm(server.url, confirm_path(outbox_messages(1)[0])).status_code == 200
    assert subscriber(db_url, "all@example.org") == ("active", "", [])


def test_an_active_subscriber_is_not_changed_and_the_answer_is_the_same(
    db_url, start_server
) -> None:
    world = build_world(db_url, subscribers=1)
    sub = world.subscribers[0]
    server = start_server()
    fresh = httpx.post(f"{server.url}/subscribe", data={"email": "someone.new@example.org"})
    known = httpx.post(
        f"{server.url}/subscribe",
        data={"email": world.emails[sub], "topics": "accreditation"},
    )
    assert known.status_code == fresh.status_code == 200
    assert known.text == fresh.text
    assert subscriber(db_url, world.emails[sub]) == ("active", "", ["learning-design"])
    assert len(outbox_messages(1)) == 1  # only the new address was mailed


def test_suppressed_addresses_are_never_mailed(db_url, start_server) -> None:
    with session_scope(db_url) as s:
        suppress(s, "gone@example.org", "hard bounce")
    server = start_server()
    answer = httpx.post(f"{server.url}/subscribe", data={"email": "gone@example.org"})
    assert answer.status_code == 200
    assert "Check your inbox" in answer.text
    assert subscriber(db_url, "gone@example.org") is None
    assert outbox_messages() == []


def test_an_address_suppressed_after_asking_cannot_be_confirmed(db_url, start_server) -> None:
    server = start_server()
    httpx.post(f"{server.url}/subscribe", data={"email": "late@example.org"})
    path = confirm_path(outbox_messages(1)[0])
    with session_scope(db_url) as s:
        suppress(s, "late@example.org", "spam report")
    assert press_confirm(server.url, path).status_code == 409
    assert subscriber(db_url, "late@example.org") is None


def test_repeated_sign_ups_send_one_email_per_interval(db_url, start_server) -> None:
    server = start_server()
    for _ in range(3):
        httpx.post(f"{server.url}/subscribe", data={"email": "again@example.org"})
    assert len(outbox_messages(1)) == 1
    assert requests_stored(db_url) == 1


def test_an_old_request_expires_and_starts_over(db_url, start_server) -> None:
    server = start_server()
    httpx.post(f"{server.url}/subscribe", data={"email": "slow@example.org"})
    old = confirm_path(outbox_messages(1)[0])
    clock.set_now(clock.now() + EXPIRES_AFTER)
    assert httpx.get(server.url + old).status_code == 410
    httpx.post(f"{server.url}/subscribe", data={"email": "slow@example.org"})
    assert httpx.get(server.url + old).status_code == 404  # a new secret: the old link is dead
    [message] = outbox_messages(1)  # the same request's file, rewritten
    assert press_confirm(server.url, confirm_path(message)).status_code == 200
    assert subscriber(db_url, "slow@example.org") == ("active", "", [])


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
    assert requests_stored(db_url) == 0
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_a_bad_name_or_topic_on_the_confirmation_page_is_400(db_url, start_server) -> None:
    ensure_topics(db_url)
    server = start_server()
    httpx.post(f"{server.url}/subscribe", data={"email": "typo@example.org"})
    path = confirm_path(outbox_messages(1)[0])
    for name, topics in (("x" * 201, ()), ("Ann", ("no-such-topic",))):
        answer = press_confirm(server.url, path, name=name, topics=topics)
        assert answer.status_code == 400
        assert "Yes, subscribe me" in answer.text
    assert subscriber(db_url, "typo@example.org") is None
    assert press_confirm(server.url, path, name="Ann").status_code == 200


def test_bodies_methods_and_bots(db_url, start_server) -> None:
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
    assert requests_stored(db_url) == 0


def test_confirm_tokens_of_other_kinds_are_404(db_url, start_server) -> None:
    world = build_world(db_url, subscribers=1)
    sub = world.subscribers[0]
    keys = get_settings().signing_keys()
    server = start_server()
    httpx.post(f"{server.url}/subscribe", data={"email": "kind@example.org"})
    path = confirm_path(outbox_messages(1)[0])
    wrong = subscriber_token(keys, Purpose.UNSUBSCRIBE, sub, world.secrets[sub])
    assert httpx.get(f"{server.url}/confirm/{wrong}").status_code == 404
    with session_scope(db_url) as s:
        request = s.scalars(select(SignupRequest)).one()
        forged = signup_token(keys, request.id, "not-its-secret")
    assert httpx.get(f"{server.url}/confirm/{forged}").status_code == 404
    assert httpx.put(server.url + path).status_code == 405
