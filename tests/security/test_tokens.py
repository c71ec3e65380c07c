"""Malleable tokens: a spelling of a valid token that decodes to the same bytes (a
lenient base64 decoder skips `!`, takes padding, ignores stray low bits) must not be
a second valid link; every public route answers it 404."""

from __future__ import annotations

import httpx

from briefmail.config import get_settings
from briefmail.tracking.tokens import Purpose, click_token, subscriber_token
from tests.tracking.factories import build_world
from tests.web.conftest import BROWSER_UA
from tests.web.signups import confirm_path, outbox_messages

BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def respellings(token: str) -> list[str]:
    head, mac = token.split(".")
    spellings = ["!".join(head) + "." + mac, head + "=." + mac, head + "==." + mac]
    if len(head) % 4 in (2, 3):  # the last character carries unused bits
        stray = BASE64URL[BASE64URL.index(head[-1]) | 1]
        if stray != head[-1]:
            spellings.append(f"{head[:-1]}{stray}.{mac}")
    return spellings


def test_only_the_canonical_spelling_of_a_token_opens_a_page(db_url, start_server) -> None:
    world = build_world(db_url, subscribers=1)
    sub = world.subscribers[0]
    keys = get_settings().signing_keys()
    server = start_server()
    httpx.post(f"{server.url}/subscribe", data={"email": "spelling@example.org"})
    secret = world.secrets[sub]
    pages = {
        "/u/": subscriber_token(keys, Purpose.UNSUBSCRIBE, sub, secret, world.send_id),
        "/preferences/": subscriber_token(keys, Purpose.PREFERENCES, sub, secret, world.send_id),
        "/confirm/": confirm_path(outbox_messages(1)[0]).removeprefix("/confirm/"),
        "/c/": click_token(keys, world.send_id, 1, sub),
    }
    client = httpx.Client(headers={"user-agent": BROWSER_UA})
    for route, token in pages.items():
        assert client.get(server.url + route + token).status_code in (200, 302), route
        for spelling in respellings(token):
            answer = client.get(server.url + route + spelling)
            assert answer.status_code == 404, (route, spelling, answer.status_code)
    client.close()
