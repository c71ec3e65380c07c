"""The click listener (`briefmail.web.clicklistener`): /c/ on a port of its own.

Raw sockets over real HTTP, so pipelining, HTTP/1.0 and `Connection: close` are what a
client sends. The answers and the recorded clicks must be those of the app's own /c/
(`ClickRedirects` under uvicorn): the last test sends both the same random traffic.
"""

from __future__ import annotations

import logging
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import delete, select

from briefmail.config import get_settings
from briefmail.db.models import Click
from briefmail.db.session import session_scope
from briefmail.tracking.tokens import click_token
from tests.tracking.factories import LINKS, build_world
from tests.web.conftest import BROWSER_UA
from tests.web.server import LiveServer, free_port

URLS = {link_id: url for link_id, url, _, _ in LINKS}


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def seen(self) -> tuple[object, ...]:
        """What a client sees (the date aside)."""
        headers = {k: v for k, v in self.headers.items() if k != "date"}
        return self.status, sorted(headers.items()), self.body


def _read_answer(sock: socket.socket, buffer: bytearray, *, no_body: bool = False) -> Answer:
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a full answer: {bytes(buffer)!r}")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if no_body else int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside a body")
        rest += chunk
    buffer[:] = rest[length:]
    return Answer(int(status_line.split()[1]), headers, rest[:length])


def exchange(
    port: int, raw: bytes, answers: int, *, head: bool = False
) -> tuple[list[Answer], bool]:
    """Send `raw` at once, read `answers` answers (of HEAD requests: no bodies); also
    whether the server then closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        buffer = bytearray()
        got = [_read_answer(sock, buffer, no_body=head) for _ in range(answers)]
        sock.settimeout(0.5)
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
        return got, closed


def get(path: str, *, version: str = "1.1", extra: str = "") -> bytes:
    return (
        f"GET {path} HTTP/{version}\r\nHost: briefmail.test\r\nUser-Agent: {BROWSER_UA}\r\n"
        f"{extra}\r\n"
    ).encode()


def stored(url: str) -> list[Click]:
    with session_scope(url) as s:
        return list(s.scalars(select(Click).order_by(Click.clicked_at, Click.event_key)))


@pytest.fixture
def listener(db_url):  # type: ignore[no-untyped-def]
    """A sent brief and the app with its click listener: (world, server, tokens)."""
    world = build_world(db_url, subscribers=4)
    server = LiveServer(get_settings(), clicks=True).start()
    keys = get_settings().signing_keys()
    tokens = {
        (link, sub): click_token(keys, world.send_id, link, sub)
        for link in (1, 2, 3)
        for sub in world.subscribers
    }
    yield world, server, tokens
    server.stop()


def test_clicks_are_answered_and_recorded_as_the_app_does(db_url, listener) -> None:
    world, server, tokens = listener
    subs = world.subscribers
    [first], _ = exchange(server.click_port, get(f"/c/{tokens[1, subs[0]]}"), 1)  # loads
    [second], _ = exchange(server.click_port, get(f"/c/{tokens[1, subs[1]]}"), 1)  # memory
    [app], _ = exchange(server.port, get(f"/c/{tokens[1, subs[2]]}"), 1)  # the web port
    for answer in (first, second, app):
        assert answer.status == 302
        assert answer.headers["location"] == URLS[1]
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["content-length"] == "0"
        assert "date" in answer.headers
        assert "server" not in answer.headers
    assert first.seen() == second.seen() == app.seen()
    server.stop()
    rows = stored(db_url)
    assert [(c.link_id, c.subscriber_id, c.method, c.ip, c.automated) for c in rows] == [
        (1, subs[0], "GET", "127.0.0.1", False),
        (1, subs[1], "GET", "127.0.0.1", False),
        (1, subs[2], "GET", "127.0.0.1", False),
    ]
    assert {c.user_agent for c in rows} == {BROWSER_UA}


def test_pipelined_answers_keep_their_order_behind_a_send_still_loading(db_url, listener) -> None:
    world, server, tokens = listener
    other = build_world(db_url, slug="another-brief", subscribers=1, email_prefix="other")
    keys = get_settings().signing_keys()
    cold = f"/c/{click_token(keys, other.send_id, 2, other.subscribers[0])}"
    subs = world.subscribers
    exchange(server.click_port, get(f"/c/{tokens[3, subs[3]]}"), 1)  # the first send loaded
    raw = (
        get(f"/c/{tokens[1, subs[0]]}")
        + get(cold)  # its send's links load from the database: what follows waits
        + get(f"/c/{tokens[2, subs[0]]}")
        + get("/c/not-a-token")
        + get("/healthz")  # the app's page, not the listener's
        + get(cold)
    )
    answers, closed = exchange(server.click_port, raw, 6)
    assert [a.status for a in answers] == [302, 302, 302, 404, 404, 302]
    assert [a.headers.get("location") for a in answers] == [
        URLS[1], URLS[2], URLS[2], None, None, URLS[2]
    ]  # fmt: skip
    assert b"Link not found" in answers[3].body
    assert not closed  # keep-alive
    server.stop()
    assert len(stored(db_url)) == 1 + 4


@pytest.mark.parametrize(
    ("version", "extra"),
    [("1.0", ""), ("1.1", "Connection: close\r\n")],
    ids=["http-1.0", "connection-close"],
)
def test_the_connection_closes_when_the_client_asks(listener, version, extra) -> None:
    world, server, tokens = listener
    [answer], closed = exchange(
        server.click_port,
        get(f"/c/{tokens[2, world.subscribers[2]]}", version=version, extra=extra),
        1,
    )
    assert answer.status == 302
    assert answer.headers["connection"] == "close"
    assert closed


def test_head_and_a_body_on_get(db_url, listener) -> None:
    world, server, tokens = listener
    subs = world.subscribers
    head = get(f"/c/{tokens[1, subs[0]]}").replace(b"GET ", b"HEAD ", 1)
    with_body = (
        f"GET /c/{tokens[2, subs[0]]} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    ).encode()
    answers, _ = exchange(server.click_port, head + with_body + get(f"/c/{tokens[3, subs[0]]}"), 3)
    assert [(a.status, a.body) for a in answers] == [(302, b""), (302, b""), (302, b"")]
    head_404 = b"HEAD /c/nope HTTP/1.1\r\nHost: x\r\n\r\n"
    [page, after], _ = exchange(server.click_port, head_404 * 2, 2, head=True)
    assert (page.status, after.status) == (404, 404)
    assert int(page.headers["content-length"]) > 0
    assert page.body == after.body == b""
    server.stop()
    rows = {(c.link_id, c.subscriber_id): c for c in stored(db_url)}
    assert rows[1, subs[0]].method == "HEAD"
    assert rows[1, subs[0]].reason == "head"
    assert rows[2, subs[0]].method == "GET"


def test_queries_escapes_other_methods_and_other_paths(db_url, listener) -> None:
    world, server, tokens = listener
    token = tokens[1, world.subscribers[0]]
    post = f"POST /c/{token} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
    answers, _ = exchange(
        server.click_port,
        get(f"/c/{token}?url=https://evil.example.net")  # a query cannot change anything
        + get(f"/c/{token}%41")  # an escape, decoded as the app decodes it: a bad token
        + get("/c/%2e%2e/u/x")
        + post
        + get(f"/c/{token}/x")
        + get("/")
        + b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
        7,
    )
    assert [a.status for a in answers] == [302, 404, 404, 405, 404, 404, 404]
    assert answers[0].headers["location"] == URLS[1]
    assert answers[3].headers["allow"] == "GET, HEAD"
    server.stop()
    assert len(stored(db_url)) == 1


def test_forwarded_for_is_read_from_trusted_proxies_only(db_url) -> None:
    world = build_world(db_url, subscribers=3)
    keys = get_settings().signing_keys()
    subs = world.subscribers
    forwarded = "X-Forwarded-For: 203.0.113.7, 127.0.0.1\r\n"
    seen = {}
    for trusted, sub in (("127.0.0.1", subs[1]), ("192.0.2.0/24", subs[2])):
        server = LiveServer(get_settings(), clicks=True, forwarded_allow_ips=trusted).start()
        try:
            token = click_token(keys, world.send_id, 1, sub)
            exchange(server.click_port, get(f"/c/{token}", extra=forwarded), 1)
        finally:
            server.stop()
        seen[trusted] = {c.subscriber_id: c.ip for c in stored(db_url)}[sub]
    assert seen == {"127.0.0.1": "203.0.113.7", "192.0.2.0/24": "127.0.0.1"}


def test_nothing_after_a_request_that_closes_the_connection_is_answered_or_counted(
    db_url, listener
) -> None:
    world, server, tokens = listener
    subs = world.subscribers
    raw = get(f"/c/{tokens[1, subs[0]]}", extra="Connection: close\r\n") + get(
        f"/c/{tokens[2, subs[0]]}"
    )
    [answer], closed = exchange(server.click_port, raw, 1)
    assert answer.headers["location"] == URLS[1]
    assert closed
    server.stop()
    assert [(c.link_id, c.subscriber_id) for c in stored(db_url)] == [(1, subs[0])]


def test_malformed_and_oversized_requests_are_refused_and_closed(listener) -> None:
    world, server, tokens = listener
    [bad], closed = exchange(server.click_port, b"NONSENSE\r\n\r\n", 1)
    assert (bad.status, bad.body, closed) == (400, b"Invalid HTTP request received.", True)
    huge = get(f"/c/{tokens[1, world.subscribers[0]]}", extra=f"X-Pad: {'a' * 20_000}\r\n")
    [large], closed = exchange(server.click_port, huge, 1)
    assert (large.status, closed) == (431, True)


def test_idle_connections_close_after_the_timeout_busy_ones_do_not(db_url) -> None:
    world = build_world(db_url, subscribers=12)
    keys = get_settings().signing_keys()
    server = LiveServer(get_settings(), clicks=True, timeout_keep_alive=1).start()
    try:
        with socket.create_connection(("127.0.0.1", server.click_port), timeout=10) as busy:
            buffer = bytearray()
            started = time.monotonic()
            for sub in world.subscribers:  # one click every 0.25 s for 3 s
                busy.sendall(get(f"/c/{click_token(keys, world.send_id, 1, sub)}"))
                assert _read_answer(busy, buffer).status == 302
                time.sleep(0.25)
            assert time.monotonic() - started > 2.5  # well past the timeout, still open
            started = time.monotonic()
            busy.settimeout(5)
            assert busy.recv(1) == b""  # then idle: closed by the server
            assert 0.5 < time.monotonic() - started < 2.5
        with socket.create_connection(("127.0.0.1", server.click_port), timeout=10) as silent:
            silent.settimeout(5)
            assert silent.recv(1) == b""  # a connection that never sends is closed too
    finally:
        server.stop()


def test_a_failure_while_answering_is_logged_and_answered_with_the_error_page(
    db_url, listener, monkeypatch, caplog
) -> None:
    world, server, tokens = listener
    answers = server.app.state.click_listener.answers

    def broken(*_args: object) -> None:
        raise RuntimeError("a bug in the click path")

    monkeypatch.setattr(answers, "cached", broken)
    with caplog.at_level(logging.ERROR, logger="briefmail.web.clicklistener"):
        got, closed = exchange(server.click_port, get(f"/c/{tokens[1, world.subscribers[0]]}"), 1)
    assert got[0].status == 500
    assert b"Something went wrong" in got[0].body
    assert not closed
    assert "a bug in the click path" in caplog.text
    monkeypatch.undo()
    [after], _ = exchange(server.click_port, get(f"/c/{tokens[1, world.subscribers[0]]}"), 1)
    assert after.status == 302


@pytest.mark.parametrize(
    "command",
    [["clicks", "--port", "{click}"], ["web", "--port", "{web}", "--click-port", "{click}"]],
    ids=["briefmail-clicks", "briefmail-web-click-port"],
)
def test_the_commands_answer_clicks_and_store_every_one_on_sigterm(
    db_url, monkeypatch, tmp_path, command
) -> None:
    world = build_world(db_url, subscribers=2)
    monkeypatch.setenv("BRIEFMAIL_DATABASE_URL", db_url)
    keys = get_settings().signing_keys()
    port = free_port()
    args = [arg.format(click=port, web=free_port()) for arg in command]
    proc = subprocess.Popen([sys.executable, "-m", "briefmail", *args], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while True:  # the port is bound at once; it answers once the app has started
            try:
                exchange(port, get("/c/warm"), 1)
                break
            except OSError:
                assert proc.poll() is None
                assert time.monotonic() < deadline
                time.sleep(0.1)
        raw = b"".join(
            get(f"/c/{click_token(keys, world.send_id, link, sub)}")
            for link in (1, 2)
            for sub in world.subscribers
        )
        answers, _ = exchange(port, raw, 4)
        assert [a.headers["location"] for a in answers] == [URLS[1], URLS[1], URLS[2], URLS[2]]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    assert len(stored(db_url)) == 4


def _random_traffic(keys: list[bytes], send_ids: list[int], subs: list[int]) -> list[bytes]:
    rng = random.Random(20261126)
    good = [
        f"/c/{click_token(keys, send_id, link, sub)}"
        for send_id in send_ids
        for link in (1, 2, 3)
        for sub in subs
    ]
    kinds = [
        lambda: get(rng.choice(good)),
        lambda: get(rng.choice(good)).replace(b"GET ", b"HEAD ", 1),
        lambda: get(rng.choice(good) + "?utm=x"),
        lambda: get(rng.choice(good)[:-2] + "AA"),  # tampered
        lambda: get(rng.choice(good), extra="X-Forwarded-For: 198.51.100.4, 10.0.0.1\r\n"),
        lambda: get(rng.choice(good), extra="Purpose: prefetch\r\n"),
        lambda: get(rng.choice(["/c/", "/c", "/nothing-here", "/c/a/b"])),
        lambda: (
            f"GET {rng.choice(good)} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        ).encode(),
        lambda: f"DELETE {rng.choice(good)} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
    ]
    return [rng.choice(kinds)() for _ in range(150)]


def test_random_pipelined_traffic_gets_the_apps_answers_and_records_the_same(db_url) -> None:
    """Differential: one random stream of requests (a send cached, another loading on
    its first click), cut at random places, sent to the click listener and to the app
    under plain uvicorn; the answers must match in order and the clicks stored too."""
    world = build_world(db_url, subscribers=4)
    cold = build_world(db_url, slug="another-brief", subscribers=0)
    keys = get_settings().signing_keys()
    requests = _random_traffic(keys, [world.send_id, cold.send_id], world.subscribers)
    stream = b"".join(requests)
    cuts = sorted(random.Random(7).sample(range(1, len(stream)), 40))
    warm = get(f"/c/{click_token(keys, world.send_id, 1, world.subscribers[0])}")

    def run(server: LiveServer, port: int) -> tuple[list[tuple[object, ...]], Counter[tuple]]:
        try:
            exchange(port, warm, 1)  # the first send's links cached on both
            with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
                for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
                    sock.sendall(stream[start:end])
                    time.sleep(0.002)
                buffer = bytearray()
                got = [_read_answer(sock, buffer).seen() for _ in requests]
        finally:
            server.stop()
        rows = Counter(
            (c.send_id, c.link_id, c.subscriber_id, c.method, c.ip, c.user_agent, c.reason)
            for c in stored(db_url)
        )
        with session_scope(db_url) as s:
            s.execute(delete(Click))
        return got, rows

    listener = LiveServer(get_settings(), clicks=True, forwarded_allow_ips="127.0.0.1,10.0.0.0/8")
    ours = run(listener.start(), listener.click_port)
    plain = LiveServer(get_settings(), forwarded_allow_ips="127.0.0.1,10.0.0.0/8")
    theirs = run(plain.start(), plain.port)
    assert ours[0] == theirs[0]
    assert {answer[0] for answer in ours[0]} == {302, 404, 405}
    assert ours[1] == theirs[1]
    assert "198.51.100.4" in {ip for (_, _, _, _, ip, _, _) in ours[1]}
    assert sum(ours[1].values()) == 1 + sum(1 for answer in ours[0] if answer[0] == 302)
