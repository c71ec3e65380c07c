"""Defects found in review, each pinned by a test over real HTTP (or the real store)."""

from __future__ import annotations

import threading

import httpx

from briefmail.config import get_settings
from briefmail.db.models import Subscriber
from briefmail.db.session import session_scope
from briefmail.tracking.tokens import Purpose, sign, subscriber_token
from briefmail.web.confirmation import ConfirmationEmail
from tests.tracking.factories import build_world
from tests.web.conftest import BROWSER_UA


def status_of(url: str, sub: int) -> str:
    with session_scope(url) as s:
        return s.get(Subscriber, sub).status


def test_an_old_confirmation_link_does_not_undo_an_unsubscribe(db_url, start_server) -> None:
    """Leaving withdraws the earlier confirmation: only a new sign-up may re-activate."""
    world = build_world(db_url, subscribers=1)
    sub = world.subscribers[0]
    keys = get_settings().signing_keys()
    old_confirm = subscriber_token(keys, Purpose.CONFIRM, sub, world.secrets[sub])
    leave = subscriber_token(keys, Purpose.UNSUBSCRIBE, sub, world.secrets[sub], world.send_id)
    server = start_server()
    one_click = httpx.post(
        f"{server.url}/u/{leave}",
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200
    assert status_of(db_url, sub) == "unsubscribed"
    answer = httpx.get(f"{server.url}/confirm/{old_confirm}", headers={"user-agent": BROWSER_UA})
    assert answer.status_code != 200
    assert "You are subscribed" not in answer.text
    assert status_of(db_url, sub) == "unsubscribed"


def test_sign_up_answer_does_not_wait_for_or_depend_on_the_email(db_url, start_server) -> None:
    """Whether a confirmation is mailed (a new address) or not (an active one) must not
    show in the answer: not in its status when the mail fails, not in waiting for it."""
    world = build_world(db_url, subscribers=1)
    known_address = world.emails[world.subscribers[0]]
    server = start_server()
    known = httpx.post(f"{server.url}/subscribe", data={"email": known_address})
    assert known.status_code == 200

    def failing(_letter: ConfirmationEmail) -> None:
        raise ConnectionError("mail relay down")

    server.ctx.mailer = failing
    failed = httpx.post(f"{server.url}/subscribe", data={"email": "fresh.one@example.org"})
    assert (failed.status_code, failed.text) == (known.status_code, known.text)

    release, mailed = threading.Event(), threading.Event()

    def slow(_letter: ConfirmationEmail) -> None:
        release.wait(60)
        mailed.set()

    server.ctx.mailer = slow
    try:
        waiting = httpx.post(
            f"{server.url}/subscribe", data={"email": "fresh.two@example.org"}, timeout=15
        )
        assert (waiting.status_code, waiting.text) == (known.status_code, known.text)
        assert not mailed.is_set()  # answered before the mail went out
    finally:
        release.set()
    assert mailed.wait(30)


def test_tampered_tokens_naming_huge_ids_are_404_not_500(db_url, start_server) -> None:
    """The subscriber id of a page token is looked up before its MAC can be checked;
    an id no database integer holds must be a plain 404, like any other bad token."""
    build_world(db_url, subscribers=1)
    server = start_server()
    forged = {
        "u": sign([b"not our key"], Purpose.UNSUBSCRIBE, 2**64, 0, extra=b"s"),
        "preferences": sign([b"not our key"], Purpose.PREFERENCES, 2**66, 1, extra=b"s"),
        "confirm": sign([b"not our key"], Purpose.CONFIRM, 2**63, extra=b"s"),
    }
    for route, token in forged.items():
        answer = httpx.get(f"{server.url}/{route}/{token}", headers={"user-agent": BROWSER_UA})
        assert answer.status_code == 404, (route, answer.status_code)


def test_a_non_ascii_form_mac_is_refused_not_a_server_error(db_url, start_server) -> None:
    world = build_world(db_url, subscribers=1)
    sub = world.subscribers[0]
    keys = get_settings().signing_keys()
    server = start_server()
    pages = {
        "u": subscriber_token(keys, Purpose.UNSUBSCRIBE, sub, world.secrets[sub], world.send_id),
        "preferences": subscriber_token(
            keys, Purpose.PREFERENCES, sub, world.secrets[sub], world.send_id
        ),
        "confirm": subscriber_token(keys, Purpose.CONFIRM, sub, world.secrets[sub]),
    }
    for route, token in pages.items():
        answer = httpx.post(
            f"{server.url}/{route}/{token}", data={"form_mac": "é" * 32, "action": "unsubscribe"}
        )
        assert answer.status_code == 403, (route, answer.status_code)
    assert status_of(db_url, sub) == "active"
