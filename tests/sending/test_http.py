"""Where a request failed decides retry or unknown; the stand-in also runs as a process."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from briefmail import clock
from briefmail.sending.backends.base import PermanentError, TransientError
from briefmail.sending.backends.http import JsonApi, retry_after_seconds
from briefmail.sending.backends.sendgrid import SendGridBackend
from tests.conftest import ROOT
from tests.fakes.sendgrid_server import API_KEY, RemoteFakeSendGrid
from tests.sending.test_sendgrid import _batch


def test_a_refused_connection_is_safe_to_retry() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    api = JsonApi(f"http://127.0.0.1:{port}", headers={}, timeout=2, name="SendGrid")
    with pytest.raises(TransientError, match="request not delivered"):
        api.post("/v3/mail/send", b"{}")


def test_retry_after_as_seconds_or_http_date() -> None:
    clock.set_now(datetime(2024, 1, 15, 12, 0, 0, tzinfo=UTC))
    assert retry_after_seconds("7") == 7
    assert retry_after_seconds("Mon, 15 Jan 2024 12:00:30 GMT") == 30
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_the_stand_in_as_a_subprocess() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.sendgrid_server"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().removeprefix("listening on ")
        fake = RemoteFakeSendGrid(url)
        backend = SendGridBackend(api_key=API_KEY, host=url, timeout=5)
        fake.plan(429, retry_after=2)
        with pytest.raises(TransientError) as caught:
            backend.send_batch(_batch(2))
        assert (caught.value.status, caught.value.retry_after) == (429, 2)
        assert backend.send_batch(_batch(2)).provider_message_id
        assert [p["email"] for p in fake.accepted] == ["r0@example.org", "r1@example.org"]
        wrong_key = SendGridBackend(api_key="SG.wrong", host=url, timeout=5)
        with pytest.raises(PermanentError) as refused:
            wrong_key.send_batch(_batch(1))
        assert refused.value.status == 401
        assert [r["status"] for r in fake.requests] == [429, 202, 401]
    finally:
        process.terminate()
        process.wait(timeout=10)
