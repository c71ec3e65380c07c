"""The sign-up form used against someone else: our email with their words in it, an
address that left put back in line, a link scanner subscribing a person."""

from __future__ import annotations

import httpx
import pytest

from briefmail.db.models import Subscriber
from briefmail.db.session import session_scope
from tests.tracking.factories import build_world
from tests.web.conftest import BROWSER_UA
from tests.web.signups import confirm_path, outbox_messages, press_confirm, subscriber

PHISH = "URGENT: your CME account is suspended, log in at https://evil.example/login"


def test_the_confirmation_email_carries_nothing_the_visitor_typed(db_url, start_server) -> None:
    build_world(db_url, subscribers=0)  # the topics
    server = start_server()
    answer = httpx.post(
        f"{server.url}/subscribe",
        data={"email": "victim@example.org", "name": PHISH, "topics": ["accreditation"]},
    )
    assert answer.status_code == 200
    [message] = outbox_messages(1)
    raw = message.as_string()
    for typed in ("URGENT", "evil.example", "suspended", "Accreditation", "accreditation"):
        assert typed not in raw, typed
    [recipient] = message["To"].addresses
    assert (recipient.display_name, recipient.addr_spec) == ("", "victim@example.org")
    text = message.get_body(("plain",))
    assert text is not None
    assert text.get_content().startswith("Hello,\n")
    assert message["Subject"] == "Confirm your subscription to Clinician Learning Brief"


@pytest.mark.parametrize("status", ["unsubscribed", "bounced", "complained"])
def test_a_sign_up_leaves_a_subscriber_who_left_as_they_are(db_url, start_server, status) -> None:
    world = build_world(db_url, subscribers=1)
    sub = world.subscribers[0]
    address = world.emails[sub]
    with session_scope(db_url) as s:
        row = s.get(Subscriber, sub)
        row.status, row.name = status, "Ann"
    server = start_server()
    answer = httpx.post(
        f"{server.url}/subscribe",
        data={"email": address, "name": "Mallory", "topics": ["accreditation"]},
    )
    assert answer.status_code == 200
    assert subscriber(db_url, address) == (status, "Ann", ["learning-design"])
    # Only the owner, from the email, puts them back: and with their own choices.
    path = confirm_path(outbox_messages(1)[0])
    assert subscriber(db_url, address) == (status, "Ann", ["learning-design"])
    assert press_confirm(server.url, path, name="Ann B.").status_code == 200
    assert subscriber(db_url, address) == ("active", "Ann B.", [])


@pytest.mark.parametrize(
    "user_agent",
    [BROWSER_UA, "Mozilla/5.0 (compatible; UnknownLinkChecker/2.1)", "curl/8.5.0", ""],
)
def test_following_the_link_never_subscribes_by_itself(db_url, start_server, user_agent) -> None:
    """A link scanner that is on no list (and looks like a browser) opens the link:
    only pressing the page's button, a POST with its MAC, subscribes."""
    server = start_server()
    httpx.post(f"{server.url}/subscribe", data={"email": "scanned@example.org"})
    path = confirm_path(outbox_messages(1)[0])
    for _ in range(2):
        page = httpx.get(server.url + path, headers={"user-agent": user_agent})
        assert page.status_code == 200
        assert "Yes, subscribe me" in page.text
    assert httpx.head(server.url + path, headers={"user-agent": user_agent}).status_code == 200
    assert subscriber(db_url, "scanned@example.org") is None
    assert httpx.post(server.url + path, data={"form_mac": "0" * 32}).status_code == 403
    assert subscriber(db_url, "scanned@example.org") is None
