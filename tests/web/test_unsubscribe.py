"""/u/TOKEN over real HTTP: the confirm page, RFC 8058 one-click, the form, refusals."""

from __future__ import annotations

import re

import httpx
import pytest

from briefmail.config import get_settings
from briefmail.db.models import Delivery, Subscriber
from briefmail.db.session import session_scope
from briefmail.tracking.tokens import Purpose, click_token, subscriber_token
from tests.tracking.factories import build_world

ONE_CLICK = {"content-type": "application/x-www-form-urlencoded"}


def token_for(world, sub: int, purpose: Purpose = Purpose.UNSUBSCRIBE) -> str:
    keys = get_settings().signing_keys()
    return subscriber_token(keys, purpose, sub, world.secrets[sub], world.send_id)


def state(url: str, world, sub: int) -> tuple[str, str]:
    with session_scope(url) as s:
        delivery = s.get(Delivery, world.deliveries[sub])
        return s.get(Subscriber, sub).status, delivery.status


def form_mac(page: str) -> str:
    match = re.search(r'name="form_mac" value="([0-9a-f]+)"', page)
    assert match, page
    return match.group(1)


def test_get_shows_a_confirm_form_and_changes_nothing(db_url, start_server) -> None:
    world = build_world(db_url)
    sub = world.subscribers[0]
    server = start_server()
    page = httpx.get(f"{server.url}/u/{token_for(world, sub)}")
    assert page.status_code == 200
    assert '<form method="post">' in page.text
    assert world.emails[sub] in page.text
    assert "/preferences/" in page.text
    assert httpx.head(f"{server.url}/u/{token_for(world, sub)}").status_code == 200
    assert state(db_url, world, sub) == ("active", "accepted")


def test_one_click_post_unsubscribes_at_once_and_idempotently(db_url, start_server) -> None:
    world = build_world(db_url)
    sub, other = world.subscribers[0], world.subscribers[1]
    server = start_server()
    url = f"{server.url}/u/{token_for(world, sub)}"
    for _ in range(2):
        answer = httpx.post(url, content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
        assert answer.status_code == 200
        assert answer.text.strip() == "Unsubscribed."
        assert state(db_url, world, sub) == ("unsubscribed", "unsubscribed")
    assert state(db_url, world, other) == ("active", "accepted")


def test_one_click_as_multipart_works_too(db_url, start_server) -> None:
    world = build_world(db_url)
    sub = world.subscribers[0]
    server = start_server()
    answer = httpx.post(
        f"{server.url}/u/{token_for(world, sub)}", files={"List-Unsubscribe": (None, "One-Click")}
    )
    assert answer.status_code == 200
    assert state(db_url, world, sub)[0] == "unsubscribed"


def test_the_confirm_form_unsubscribes_and_shows_a_done_page(db_url, start_server) -> None:
    world = build_world(db_url)
    sub = world.subscribers[0]
    server = start_server()
    url = f"{server.url}/u/{token_for(world, sub)}"
    mac = form_mac(httpx.get(url).text)
    answer = httpx.post(url, data={"form_mac": mac, "confirm": "1"}, headers={"origin": server.url})
    assert answer.status_code == 200
    assert "You are unsubscribed" in answer.text
    assert state(db_url, world, sub) == ("unsubscribed", "unsubscribed")


def test_forged_form_posts_are_refused(db_url, start_server) -> None:
    world = build_world(db_url)
    sub = world.subscribers[0]
    server = start_server()
    url = f"{server.url}/u/{token_for(world, sub)}"
    mac = form_mac(httpx.get(url).text)
    assert httpx.post(url, data={"confirm": "1"}).status_code == 400  # no MAC: not our form
    forged = [
        ({"form_mac": "0" * 32}, {}),  # wrong MAC
        ({"form_mac": mac}, {"origin": "https://evil.example.net"}),
        ({"form_mac": mac}, {"origin": "null"}),
        ({"form_mac": mac}, {"referer": "https://evil.example.net/page"}),
    ]
    for data, headers in forged:
        assert httpx.post(url, data=data, headers=headers).status_code == 403, (data, headers)
    assert state(db_url, world, sub) == ("active", "accepted")


def test_bad_tokens_are_404(db_url, start_server) -> None:
    world = build_world(db_url)
    sub = world.subscribers[0]
    keys = get_settings().signing_keys()
    server = start_server()
    good = token_for(world, sub)
    bad = [
        good[:-2],
        good.replace(".", ".x", 1),
        subscriber_token(keys, Purpose.UNSUBSCRIBE, sub, "someone-elses-secret", world.send_id),
        token_for(world, sub, Purpose.PREFERENCES),
        click_token(keys, world.send_id, 1, sub),
        subscriber_token(keys, Purpose.UNSUBSCRIBE, 999_999, "x", world.send_id),
    ]
    for token in bad:
        for method in ("GET", "POST"):
            answer = httpx.request(
                method,
                f"{server.url}/u/{token}",
                content=b"List-Unsubscribe=One-Click",
                headers=ONE_CLICK,
            )
            assert answer.status_code == 404, (token, method)
    assert state(db_url, world, sub) == ("active", "accepted")


def test_a_rotated_subscriber_secret_revokes_old_links(db_url, start_server) -> None:
    world = build_world(db_url)
    sub = world.subscribers[0]
    token = token_for(world, sub)
    with session_scope(db_url) as s:
        s.get(Subscriber, sub).secret = "rotated-secret"
    server = start_server()
    assert httpx.get(f"{server.url}/u/{token}").status_code == 404


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"List-Unsubscribe": "One-Click"}', "application/json"),
        (b"List-Unsubscribe=One-Click", "text/plain"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
    ],
)
def test_bad_bodies_are_400(db_url, start_server, body, content_type) -> None:
    world = build_world(db_url)
    sub = world.subscribers[0]
    server = start_server()
    answer = httpx.post(
        f"{server.url}/u/{token_for(world, sub)}",
        content=body,
        headers={"content-type": content_type},
    )
    assert answer.status_code == 400
    assert state(db_url, world, sub)[0] == "active"


def test_oversized_bodies_are_413(db_url, start_server) -> None:
    world = build_world(db_url)
    sub = world.subscribers[0]
    server = start_server()
    body = b"List-Unsubscribe=One-Click&pad=" + b"x" * 100_000
    answer = httpx.post(f"{server.url}/u/{token_for(world, sub)}", content=body, headers=ONE_CLICK)
    assert answer.status_code == 413
    assert state(db_url, world, sub)[0] == "active"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(db_url, start_server, method) -> None:
    world = build_world(db_url)
    server = start_server()
    answer = httpx.request(method, f"{server.url}/u/{token_for(world, world.subscribers[0])}")
    assert answer.status_code == 405
