"""The sign-up answer tells nobody whether an address is known: not by its status when
the mail fails, not by its text, not by waiting for the mail to go out."""

from __future__ import annotations

import threading

import httpx

from briefmail.web.confirmation import ConfirmationEmail
from tests.tracking.factories import build_world


def test_sign_up_answer_does_not_wait_for_or_depend_on_the_email(db_url, start_server) -> None:
    world = build_world(db_url, subscribers=1)
    known_address = world.emails[world.subscribers[0]]
    server = start_server()
    known = httpx.post(f"{server.url}/subscribe", data={"email": known_address})
    assert known.status_code == 200

    def failing(_mail: ConfirmationEmail) -> None:
        raise ConnectionError("mail relay down")

    server.ctx.mailer = failing
    failed = httpx.post(f"{server.url}/subscribe", data={"email": "fresh.one@example.org"})
    assert (failed.status_code, failed.text) == (known.status_code, known.text)

    release, mailed = threading.Event(), threading.Event()

    def slow(_mail: ConfirmationEmail) -> None:
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
