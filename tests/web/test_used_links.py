"""A confirmation link is used up once confirmed: following it again after leaving the
list cannot subscribe the address again (only a new sign-up and its own link can)."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from briefmail.config import get_settings
from briefmail.db.models import Subscriber
from briefmail.db.session import session_scope
from briefmail.tracking.tokens import Purpose, subscriber_token
from tests.web.conftest import BROWSER_UA
from tests.web.signups import confirm_path, outbox_messages, press_confirm, subscriber


def test_an_old_confirmation_link_does_not_undo_an_unsubscribe(db_url, start_server) -> None:
    server = start_server()
    httpx.post(f"{server.url}/subscribe", data={"email": "leaver@example.org"})
    path = confirm_path(outbox_messages(1)[0])
    assert press_confirm(server.url, path).status_code == 200
    with session_scope(db_url) as s:
        row = s.scalars(select(Subscriber)).one()
        leave = subscriber_token(
            get_settings().signing_keys(), Purpose.UNSUBSCRIBE, row.id, row.secret
        )
    one_click = httpx.post(
        f"{server.url}/u/{leave}",
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200
    again = httpx.get(server.url + path, headers={"user-agent": BROWSER_UA})
    assert again.status_code == 404
    assert httpx.post(server.url + path, data={"form_mac": "0" * 32}).status_code == 404
    assert subscriber(db_url, "leaver@example.org") == ("unsubscribed", "", [])
