"""A form MAC that is not ASCII is refused like any wrong MAC, never a server error
(`hmac.compare_digest` raises on non-ASCII text)."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from briefmail.config import get_settings
from briefmail.db.models import Subscriber
from briefmail.db.session import session_scope
from briefmail.tracking.tokens import Purpose, subscriber_token
from tests.tracking.factories import build_world
from tests.web.signups import confirm_path, outbox_messages


def test_a_non_ascii_form_mac_is_refused_not_a_server_error(db_url, start_server) -> None:
    world = build_world(db_url, subscribers=1)
    sub = world.subscribers[0]
    keys = get_settings().signing_keys()
    server = start_server()
    httpx.post(f"{server.url}/subscribe", data={"email": "mac@example.org"})
    pages = {
        "u": subscriber_token(keys, Purpose.UNSUBSCRIBE, sub, world.secrets[sub], world.send_id),
        "preferences": subscriber_token(
            keys, Purpose.PREFERENCES, sub, world.secrets[sub], world.send_id
        ),
        "confirm": confirm_path(outbox_messages(1)[0]).removeprefix("/confirm/"),
    }
    for route, token in pages.items():
        answer = httpx.post(
            f"{server.url}/{route}/{token}", data={"form_mac": "é" * 32, "action": "unsubscribe"}
        )
        assert answer.status_code == 403, (route, answer.status_code)
    with session_scope(db_url) as s:
        assert s.get(Subscriber, sub).status == "active"
        assert s.scalar(select(func.count()).select_from(Subscriber)) == 1  # nor the sign-up
