"""Where a SendGrid request failed decides retry, refusal or unknown outcome.

Through the official library (urllib underneath): a request that never fully left is
safe to retry; one that left and got no answer may have been accepted (unknown); an
answer is read by its status. The network faults are played by plain sockets here,
SendGrid's answers by its stand-in, also as a separate process.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from briefmail import clock
from briefmail.errors import ConfigError
from briefmail.render import personalise as p
from briefmail.sending.backends.base import (
    PermanentError,
    TransientError,
    UnknownOutcomeError,
)
from briefmail.sending.backends.sendgrid import SendGridBackend, retry_after_seconds
from tests.conftest import ROOT
from tests.fakes.sendgrid_server import API_KEY, FakeSendGrid, RemoteFakeSendGrid
from tests.sending.helpers import outgoing_batch


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens here once closed


def _read_request(conn: socket.socket) -> bytes:
    """The whole request: headers, then Content-Length bytes of body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        assert chunk, "client closed before the whole body"
        body += chunk
    return body


@contextmanager
def _server(after_body: Callable[[socket.socket], None]) -> Iterator[tuple[str, list[bytes]]]:
    """One connection: read the whole request, then do `after_body` instead of answering."""
    listener = socket.create_server(("127.0.0.1", 0))
    bodies: list[bytes] = []
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            bodies.append(_read_request(conn))
            after_body(conn)
            done.wait(10)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", bodies
    finally:
        done.set()
        thread.join(10)
        listener.close()


def _backend(url: str, timeout: float = 5.0) -> SendGridBackend:
    return SendGridBackend(api_key=API_KEY, host=url, timeout=timeout)


def test_a_refused_connection_is_safe_to_retry() -> None:
    backend = _backend(f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(TransientError, match=r"request not delivered \(ConnectionRefusedError"):
        backend.send_batch(outgoing_batch(2))


def test_a_body_the_server_never_takes_in_is_safe_to_retry() -> None:
    # Listening but never reading, with a small receive window: the body (about 9 MB,
    # more than both sockets' buffers) cannot all leave, so writing it times out.
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    with listener:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        big = {p.NAME: "x" * 9000, p.NAME_HTML: "x", "l1": "u", p.UNSUBSCRIBE_URL: "u"}
        with pytest.raises(TransientError, match=r"request not delivered \(TimeoutError"):
            _backend(url, timeout=0.5).send_batch(outgoing_batch(1000, values=big))


def _close(conn: socket.socket) -> None:
    conn.close()


def _garbage(conn: socket.socket) -> None:
    conn.sendall(b"nonsense\r\n\r\n")
    conn.close()


def _silence(conn: socket.socket) -> None:
    pass  # keep the connection open, say nothing


@pytest.mark.parametrize(
    ("after_body", "reason"),
    [
        (_close, "RemoteDisconnected"),
        (_garbage, "BadStatusLine"),
        (_silence, "TimeoutError"),
    ],
)
def test_no_answer_after_the_whole_body_is_an_unknown_outcome(
    after_body: Callable[[socket.socket], None], reason: str
) -> None:
    with _server(after_body) as (url, bodies):
        with pytest.raises(UnknownOutcomeError, match=f"no answer after the request.*{reason}"):
            _backend(url, timeout=0.5).send_batch(outgoing_batch(2))
        assert len(bodies) == 1  # the request did leave: SendGrid may have taken it


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, PermanentError),
        (403, PermanentError),
        (413, PermanentError),
        (418, PermanentError),  # a status python_http_client has no class for
        (429, TransientError),
        (500, TransientError),
        (502, TransientError),
        (503, TransientError),
    ],
)
def test_an_answer_is_read_by_its_status(
    fake: FakeSendGrid, status: int, kind: type[Exception]
) -> None:
    fake.plan(status, body=f"said {status}")
    with pytest.raises(kind) as caught:
        _backend(fake.url).send_batch(outgoing_batch(1))
    error = caught.value
    assert isinstance(error, PermanentError | TransientError)
    assert error.status == status
    assert f"said {status}" in error.body
    assert f"HTTP {status}" in error.describe()
    assert fake.accepted == []


def test_429_carries_retry_after_and_5xx_none(fake: FakeSendGrid) -> None:
    fake.plan(429, retry_after=7)
    fake.plan(503)
    backend = _backend(fake.url)
    with pytest.raises(TransientError) as limited:
        backend.send_batch(outgoing_batch(1))
    with pytest.raises(TransientError) as unavailable:
        backend.send_batch(outgoing_batch(1))
    assert (limited.value.retry_after, unavailable.value.retry_after) == (7, None)


def test_the_body_goes_once_serialised_as_json(fake: FakeSendGrid) -> None:
    result = _backend(fake.url).send_batch(outgoing_batch(3))
    assert result.provider_message_id == fake.requests[0]["message_id"]
    assert [a["email"] for a in fake.accepted] == [f"r{i}@example.org" for i in range(3)]
    assert fake.bodies[0]["from"] == {"email": "brief@example.org", "name": "Brief"}


def test_retry_after_as_seconds_or_http_date() -> None:
    clock.set_now(datetime(2024, 1, 15, 12, 0, 0, tzinfo=UTC))
    assert retry_after_seconds("7") == 7
    assert retry_after_seconds("Mon, 15 Jan 2024 12:00:30 GMT") == 30
    assert retry_after_seconds("Mon, 15 Jan 2024 11:00:00 GMT") == 0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("inf") is None
    assert retry_after_seconds(None) is None


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        ("api.sendgrid.com", "not an http(s)://host[:port] URL"),
        ("ftp://api.sendgrid.com", "not an http(s)://host[:port] URL"),
        ("https://api.sendgrid.com:port", "Port could not be cast"),
    ],
)
def test_a_host_urllib_cannot_use_is_a_config_error(host: str, problem: str) -> None:
    with pytest.raises(ConfigError, match="BRIEFMAIL_SENDGRID_HOST") as caught:
        _backend(host)
    assert problem in str(caught.value)


@pytest.mark.parametrize("key", ["", "SG.key\n", "SG.key with space", "SG.\x00key"])
def test_an_api_key_no_header_can_carry_is_a_config_error(key: str) -> None:
    with pytest.raises(ConfigError, match="BRIEFMAIL_SENDGRID_API_KEY"):
        SendGridBackend(api_key=key, host="https://api.sendgrid.com", timeout=5)


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
            backend.send_batch(outgoing_batch(2))
        assert (caught.value.status, caught.value.retry_after) == (429, 2)
        assert backend.send_batch(outgoing_batch(2)).provider_message_id
        assert [p["email"] for p in fake.accepted] == ["r0@example.org", "r1@example.org"]
        wrong_key = SendGridBackend(api_key="SG.wrong", host=url, timeout=5)
        with pytest.raises(PermanentError) as refused:
            wrong_key.send_batch(outgoing_batch(1))
        assert refused.value.status == 401
        assert [r["status"] for r in fake.requests] == [429, 202, 401]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_api_key_and_the_links_stay_out_of_debug_logs(
    fake: FakeSendGrid, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _backend(fake.url).send_batch(outgoing_batch(2))
    assert fake.accepted
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert API_KEY not in logged
    assert "https://b.example.org/u/0" not in logged
