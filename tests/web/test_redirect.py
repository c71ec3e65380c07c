"""GET /c/TOKEN over real HTTP: redirects, refusals, and every click recorded."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from briefmail.config import get_settings
from briefmail.db.models import Click
from briefmail.db.session import session_scope
from briefmail.tracking.tokens import Purpose, click_token, sign, subscriber_token
from tests.tracking.factories import LINKS, build_world
from tests.web.conftest import BROWSER_UA

URLS = {link_id: url for link_id, url, _, _ in LINKS}


def clicks(url: str) -> list[Click]:
    with session_scope(url) as s:
        return list(s.scalars(select(Click).order_by(Click.clicked_at, Click.event_key)))


def test_click_redirects_and_is_recorded_as_human(db_url, start_server) -> None:
    world = build_world(db_url)
    server = start_server()
    keys = get_settings().signing_keys()
    subscriber = world.subscribers[0]
    token = click_token(keys, world.send_id, 2, subscriber)
    answer = httpx.get(f"{server.url}/c/{token}", headers={"user-agent": BROWSER_UA})
    assert answer.status_code == 302
    assert answer.headers["location"] == URLS[2]
    assert answer.headers["cache-control"] == "no-store"
    server.stop()  # graceful: the buffered click is flushed by the lifespan
    [click] = clicks(db_url)
    assert (click.send_id, click.link_id, click.subscriber_id) == (world.send_id, 2, subscriber)
    assert click.method == "GET"
    assert click.automated is False
    assert click.reason is None
    assert click.user_agent == BROWSER_UA


def test_head_redirects_and_is_recorded_as_automated(db_url, start_server) -> None:
    world = build_world(db_url)
    server = start_server()
    token = click_token(get_settings().signing_keys(), world.send_id, 3, world.subscribers[1])
    answer = httpx.head(f"{server.url}/c/{token}", headers={"user-agent": BROWSER_UA})
    assert answer.status_code == 302
    assert answer.headers["location"] == URLS[3]
    server.stop()
    [click] = clicks(db_url)
    assert click.method == "HEAD"
    assert click.automated
    assert click.reason == "head"


def test_every_click_is_stored_after_a_graceful_stop(db_url, start_server) -> None:
    world = build_world(db_url, subscribers=5)
    server = start_server()
    keys = get_settings().signing_keys()
    made = 0
    with httpx.Client(headers={"user-agent": BROWSER_UA}) as client:
        for subscriber in world.subscribers:
            for link_id in (1, 2, 3):
                token = click_token(keys, world.send_id, link_id, subscriber)
                assert client.get(f"{server.url}/c/{token}").status_code == 302
                made += 1
    server.stop()
    stored = clicks(db_url)
    assert len(stored) == made == 15
    assert len({c.event_key for c in stored}) == 15


def _tamper(token: str) -> str:
    head, _, mac = token.partition(".")
    flipped = "A" if mac[3] != "A" else "B"
    return f"{head}.{mac[:3]}{flipped}{mac[4:]}"


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(_tamper, id="tampered-mac"),
        pytest.param(lambda t: t[:-3], id="truncated"),
        pytest.param(lambda t: t.partition(".")[0], id="no-mac"),
        pytest.param(lambda t: "x" + t, id="garbage-prefix"),
        pytest.param(lambda t: t + "%2F..%2Fevil", id="path-suffix"),
    ],
)
def test_bad_tokens_get_a_plain_404_never_a_redirect(db_url, start_server, mangle) -> None:
    world = build_world(db_url)
    server = start_server()
    token = click_token(get_settings().signing_keys(), world.send_id, 1, world.subscribers[0])
    answer = httpx.get(f"{server.url}/c/{mangle(token)}", headers={"user-agent": BROWSER_UA})
    assert answer.status_code == 404
    assert "location" not in answer.headers
    assert "Link not found" in answer.text
    server.stop()
    assert clicks(db_url) == []


def test_tokens_that_verify_but_name_nothing_are_404(db_url, start_server) -> None:
    world = build_world(db_url)
    server = start_server()
    keys = get_settings().signing_keys()
    sub = world.subscribers[0]
    wrong = [
        click_token(keys, world.send_id + 99, 1, sub),  # unknown send
        click_token(keys, world.send_id, 42, sub),  # unknown link
        click_token([b"another-key-0123456789"], world.send_id, 1, sub),  # not our key
        subscriber_token(keys, Purpose.UNSUBSCRIBE, sub, world.secrets[sub], world.send_id),
        sign(keys, Purpose.CLICK, world.send_id, 1),  # wrong arity
    ]
    for token in wrong:
        answer = httpx.get(f"{server.url}/c/{token}")
        assert answer.status_code == 404, token
        assert "location" not in answer.headers
    server.stop()
    assert clicks(db_url) == []


def test_rotated_keys_still_verify(db_url, start_server, monkeypatch) -> None:
    world = build_world(db_url)
    old = click_token(
        [b"old-key-0123456789abc-0123456789abc"], world.send_id, 1, world.subscribers[0]
    )
    monkeypatch.setenv(
        "BRIEFMAIL_SECRET_KEY",
        "new-key-0123456789abc-0123456789abc,old-key-0123456789abc-0123456789abc",
    )
    get_settings.cache_clear()
    server = start_server()
    assert httpx.get(f"{server.url}/c/{old}").status_code == 302


@pytest.mark.parametrize(
    "stored_url",
    ["javascript:alert(1)", "//evil.example.net/x", "data:text/html,hi", "ftp://x.org/", "/local"],
)
def test_no_open_redirect_to_anything_but_stored_http_urls(
    db_url, start_server, stored_url
) -> None:
    world = build_world(db_url, links=[(1, stored_url, "source", 1)])
    server = start_server()
    token = click_token(get_settings().signing_keys(), world.send_id, 1, world.subscribers[0])
    answer = httpx.get(f"{server.url}/c/{token}")
    assert answer.status_code == 404
    assert "location" not in answer.headers


def test_query_parameters_cannot_change_the_destination(db_url, start_server) -> None:
    world = build_world(db_url)
    server = start_server()
    token = click_token(get_settings().signing_keys(), world.send_id, 1, world.subscribers[0])
    answer = httpx.get(
        f"{server.url}/c/{token}",
        params={"url": "https://evil.example.net", "next": "https://evil.example.net"},
    )
    assert answer.status_code == 302
    assert answer.headers["location"] == URLS[1]


def test_non_ascii_destinations_are_percent_encoded(db_url, start_server) -> None:
    world = build_world(db_url, links=[(1, "https://example.org/café?q=a b", "source", 1)])
    server = start_server()
    token = click_token(get_settings().signing_keys(), world.send_id, 1, world.subscribers[0])
    answer = httpx.get(f"{server.url}/c/{token}")
    assert answer.headers["location"] == "https://example.org/caf%C3%A9?q=a%20b"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(db_url, start_server, method) -> None:
    world = build_world(db_url)
    server = start_server()
    token = click_token(get_settings().signing_keys(), world.send_id, 1, world.subscribers[0])
    answer = httpx.request(method, f"{server.url}/c/{token}", content=b"x")
    assert answer.status_code == 405
    assert "GET" in answer.headers["allow"]


def test_links_are_cached_after_the_first_click(db_url, start_server) -> None:
    world = build_world(db_url)
    server = start_server()
    keys = get_settings().signing_keys()
    first = click_token(keys, world.send_id, 1, world.subscribers[0])
    assert httpx.get(f"{server.url}/c/{first}").status_code == 302
    # The send's links change under us: the cache keeps answering from memory.
    with session_scope(db_url) as s:
        from briefmail.db.models import SendLink

        s.get(SendLink, (world.send_id, 2)).url = "https://changed.example.org/"
    second = click_token(keys, world.send_id, 2, world.subscribers[0])
    assert httpx.get(f"{server.url}/c/{second}").headers["location"] == URLS[2]


def test_unknown_paths_are_404(db_url, start_server) -> None:
    server = start_server()
    for path in ("/", "/c/", "/c", "/admin", "/c/a/b"):
        answer = httpx.get(server.url + path)
        assert answer.status_code == 404, path
        assert "location" not in answer.headers


def test_healthz_reports_the_click_buffer(db_url, start_server) -> None:
    server = start_server()
    body = httpx.get(f"{server.url}/healthz").json()
    assert body["status"] == "ok"
    assert body["clicks"] == {
        "buffered": 0,
        "written": 0,
        "dropped": 0,
        "failures": 0,
    }
