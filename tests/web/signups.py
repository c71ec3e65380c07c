"""Helpers for sign-up tests: the confirmation emails in the outbox, their links, the
subscriber row, and confirming the way a person does (open the page, press the button)."""

from __future__ import annotations

import email
import re
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path

import httpx
from sqlalchemy import select

from briefmail.config import get_settings
from briefmail.db.models import Subscriber
from briefmail.db.session import session_scope
from tests.web.conftest import BROWSER_UA


def outbox_messages(at_least: int = 0) -> list[EmailMessage]:
    """The confirmation emails so far; waits for `at_least` of them, since they are sent
    after the answer (so that the answer cannot tell whether one was sent)."""
    folder = Path(get_settings().outbox_dir) / "send-0"
    deadline = time.monotonic() + 30
    while len(list(folder.glob("*.eml"))) < at_least and time.monotonic() < deadline:
        time.sleep(0.02)
    messages = []
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages


def confirm_path(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    match = re.search(r"https://brief\.example\.org(/confirm/\S+)", text)
    assert match, text
    return match.group(1)


def form_mac(page: str) -> str:
    match = re.search(r'name="form_mac" value="([0-9a-f]+)"', page)
    assert match, page
    return match.group(1)


def press_confirm(
    base: str, path: str, *, name: str = "", topics: tuple[str, ...] = ()
) -> httpx.Response:
    """Open the confirmation page as a browser does, then submit its form."""
    page = httpx.get(base + path, headers={"user-agent": BROWSER_UA})
    assert page.status_code == 200, page.text
    data: dict[str, str | list[str]] = {"form_mac": form_mac(page.text), "name": name}
    if topics:
        data["topics"] = list(topics)
    return httpx.post(base + path, data=data, headers={"user-agent": BROWSER_UA})


def subscriber(url: str, address: str) -> tuple[str, str, list[str]] | None:
    """(status, name, topic slugs) of the subscriber with `address`, or None."""
    with session_scope(url) as s:
        row = s.scalars(select(Subscriber).where(Subscriber.email_key == address.lower())).first()
        if row is None:
            return None
        return row.status, row.name, sorted(t.slug for t in row.topics)
