"""The click redirect answered inside the HTTP protocol (`briefmail.web.protocol`).

Raw sockets over real HTTP, so pipelining, HTTP/1.0 and `Connection: close` are what a
client sends. Each case checks which path answered (`answered_by_protocol`) and that
the answer and the recorded click are those of the ASGI path.
"""

from __future__ import annotations

import logging
import random
import socket
import time

import pytest
from sqlalchemy import select

from briefmail.config import get_settings
from briefmail.db.models import Click
from briefmail.db.session import session_scope
from briefmail.tracking.tokens import click_token
from tests.tracking.factories import LINKS, build_world
from tests.web.conftest import BROWSER_UA
from tests.web.server import LiveServer

URLS = {link_id: url for link_id, url, _, _ in LINKS}


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


def _read_answer(sock: socket.socket, buffer: bytearray) -> Answer:
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
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside a body")
        rest += chunk
    buffer[:] = rest[length:]
    return Answer(int(status_line.split()[1]), headers, rest[:length])


def exchange(port: int, raw: bytes, answers: int) -> tuple[list[Answer], bool]:
    """Send `raw` at once, read `answers` answers; also whether the server then closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        buffer = bytearray()
        got = [_read_answer(sock, buffer) for _ in range(answers)]
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
def world_and_server(db_url, start_server):  # type: ignore[no-untyped-def]
    world = build_world(db_url, subscribers=4)
    server = start_server()
    keys = get_settings().signing_keys()
    tokens = {
        (link, sub): click_token(keys, world.send_id, link, sub)
        for link in (1, 2, 3)
        for sub in world.subscribers
    }
    return world, server, tokens


@pytest.fixture
def warmed(world_and_server):  # type: ignore[no-untyped-def]
    """`world_and_server` after one click (link 3 of the last subscriber) has loaded the
    send's links, so the next clicks can be answered by the protocol."""
    world, server, tokens = world_and_server
    exchange(server.port, get(f"/c/{tokens[3, world.subscribers[3]]}"), 1)
    return world_and_server


def test_the_first_click_loads_the_send_and_later_ones_are_answered_in_the_protocol(
    db_url, world_and_server
) -> None:
    world, server, tokens = world_and_server
    subs = world.subscribers
    clicks = server.app.state.clicks
    [first], _ = exchange(server.port, get(f"/c/{tokens[1, subs[0]]}"), 1)
    assert clicks.answered_by_protocol == 0  # not cached yet: the ASGI path loaded it
    [second], _ = exchange(server.port, get(f"/c/{tokens[1, subs[1]]}"), 1)
    assert clicks.answered_by_protocol == 1
    for answer in (first, second):
        assert answer.status == 302
        assert answer.headers["location"] == URLS[1]
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["content-length"] == "0"
        assert "date" in answer.headers
        assert "server" not in answer.headers
    assert set(first.headers) == set(second.headers)
    server.stop()
    rows = stored(db_url)
    assert [(c.link_id, c.subscriber_id, c.method, c.ip, c.automated) for c in rows] == [
        (1, subs[0], "GET", "127.0.0.1", False),
        (1, subs[1], "GET", "127.0.0.1", False),
    ]
    assert rows[1].user_agent == BROWSER_UA


def test_keep_alive_pipelining_and_order_with_slower_requests(db_url, warmed) -> None:
    world, server, tokens = warmed
    subs = world.subscribers
    clicks = server.app.state.clicks
    raw = (
        get(f"/c/{tokens[1, subs[0]]}")
        + get("/healthz")  # an ASGI request in flight: what follows must wait its turn
        + get(f"/c/{tokens[2, subs[0]]}")
        + get(f"/c/{tokens[3, subs[0]]}")
        + get("/c/not-a-token")
        + get(f"/c/{tokens[1, subs[1]]}")
    )
    answers, closed = exchange(server.port, raw, 6)
    assert [a.status for a in answers] == [302, 200, 302, 302, 404, 302]
    assert b'"status":"ok"' in answers[1].body
    assert [a.headers.get("location") for a in answers] == [
        URLS[1], None, URLS[2], URLS[3], None, URLS[1]
    ]  # fmt: skip
    assert b"Link not found" in answers[4].body
    assert not closed  # keep-alive
    assert clicks.answered_by_protocol >= 1  # the first; the rest queue behind /healthz
    server.stop()
    assert len(stored(db_url)) == 1 + 4


@pytest.mark.parametrize(
    ("version", "extra"),
    [("1.0", ""), ("1.1", "Connection: close\r\n")],
    ids=["http-1.0", "connection-close"],
)
def test_the_connection_closes_when_the_client_asks(db_url, warmed, version, extra) -> None:
    world, server, tokens = warmed
    subs = world.subscribers
    before = server.app.state.clicks.answered_by_protocol
    [answer], closed = exchange(
        server.port, get(f"/c/{tokens[2, subs[2]]}", version=version, extra=extra), 1
    )
    assert server.app.state.clicks.answered_by_protocol == before + 1
    assert answer.status == 302
    assert answer.headers["connection"] == "close"
    assert closed


def test_head_and_a_body_on_get(db_url, warmed) -> None:
    world, server, tokens = warmed
    subs = world.subscribers
    head = get(f"/c/{tokens[1, subs[0]]}").replace(b"GET ", b"HEAD ", 1)
    with_body = (
        f"GET /c/{tokens[2, subs[0]]} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    ).encode()
    answers, _ = exchange(server.port, head + with_body + get(f"/c/{tokens[3, subs[0]]}"), 3)
    assert [(a.status, a.body) for a in answers] == [(302, b""), (302, b""), (302, b"")]
    assert server.app.state.clicks.answered_by_protocol == 3
    server.stop()
    rows = {(c.link_id, c.subscriber_id): c for c in stored(db_url)}
    assert rows[1, subs[0]].method == "HEAD"
    assert rows[1, subs[0]].reason == "head"
    assert rows[2, subs[0]].method == "GET"


def test_what_the_protocol_leaves_to_the_asgi_path(db_url, warmed) -> None:
    world, server, tokens = warmed
    subs = world.subscribers
    clicks = server.app.state.clicks
    token = tokens[1, subs[0]]
    post = f"POST /c/{token} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
    answers, _ = exchange(
        server.port,
        get(f"/c/{token}?url=https://evil.example.net")  # a query string
        + get(f"/c/{token}%41")  # an escape (here making a bad token)
        + post
        + get(f"/c/{token}/x"),
        4,
    )
    assert [a.status for a in answers] == [302, 404, 405, 404]
    assert answers[0].headers["location"] == URLS[1]
    assert clicks.answered_by_protocol == 0


def test_forwarded_for_is_read_from_trusted_proxies_only(db_url) -> None:
    world = build_world(db_url, subscribers=3)
    keys = get_settings().signing_keys()
    subs = world.subscribers
    forwarded = "X-Forwarded-For: 203.0.113.7, 127.0.0.1\r\n"
    seen = {}
    for trusted, sub in (("127.0.0.1", subs[1]), ("192.0.2.1", subs[2])):
        server = LiveServer(get_settings(), forwarded_allow_ips=trusted).start()
        try:
            exchange(server.port, get(f"/c/{click_token(keys, world.send_id, 3, subs[0])}"), 1)
            token = click_token(keys, world.send_id, 1, sub)
            exchange(server.port, get(f"/c/{token}", extra=forwarded), 1)
            assert server.app.state.clicks.answered_by_protocol == 1
        finally:
            server.stop()
        seen[trusted] = {c.subscriber_id: c.ip for c in stored(db_url)}[sub]
    assert seen == {"127.0.0.1": "203.0.113.7", "192.0.2.1": "127.0.0.1"}


def test_plain_uvicorn_protocol_gives_the_same_answers(db_url) -> None:
    """`uvicorn --factory briefmail.web.app:create_app` has no protocol answers: the ASGI
    path answers every click the same way."""
    world = build_world(db_url, subscribers=2)
    keys = get_settings().signing_keys()
    server = LiveServer(get_settings(), http="httptools").start()
    try:
        raw = b"".join(
            get(f"/c/{click_token(keys, world.send_id, link, world.subscribers[0])}")
            for link in (1, 2, 3)
        )
        answers, _ = exchange(server.port, raw, 3)
        assert [a.headers["location"] for a in answers] == [URLS[1], URLS[2], URLS[3]]
        assert server.app.state.clicks.answered_by_protocol == 0
    finally:
        server.stop()
    assert len(stored(db_url)) == 3


def test_nothing_after_a_request_that_closes_the_connection_is_answered_or_counted(
    db_url, warmed
) -> None:
    world, server, tokens = warmed
    subs = world.subscribers
    raw = get(f"/c/{tokens[1, subs[0]]}", extra="Connection: close\r\n") + get(
        f"/c/{tokens[2, subs[0]]}"
    )
    [answer], closed = exchange(server.port, raw, 1)
    assert answer.headers["location"] == URLS[1]
    assert closed
    server.stop()
    assert sorted((c.link_id, c.subscriber_id) for c in stored(db_url)) == [
        (1, subs[0]),
        (3, subs[3]),
    ]


def test_idle_keep_alive_connections_close_after_the_timeout_busy_ones_do_not(
    db_url,
) -> None:
    world = build_world(db_url, subscribers=12)
    keys = get_settings().signing_keys()
    server = LiveServer(get_settings(), timeout_keep_alive=1).start()
    try:
        exchange(server.port, get(f"/c/{click_token(keys, world.send_id, 3, 1)}"), 1)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as busy:
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
        assert server.app.state.clicks.answered_by_protocol == len(world.subscribers)
    finally:
        server.stop()


def test_a_failure_in_the_protocol_is_logged_and_the_app_answers(
    db_url, warmed, monkeypatch, caplog
) -> None:
    world, server, tokens = warmed
    subs = world.subscribers

    def broken(*_args: object) -> bytes:
        raise RuntimeError("a bug in the fast path")

    monkeypatch.setattr(server.app.state.clicks, "cached", broken)
    with caplog.at_level(logging.ERROR, logger="briefmail.web.protocol"):
        [answer], _ = exchange(server.port, get(f"/c/{tokens[1, subs[0]]}"), 1)
    assert answer.status == 302
    assert answer.headers["location"] == URLS[1]
    assert "a bug in the fast path" in caplog.text
    server.stop()
    assert len(stored(db_url)) == 2  # recorded once, by the app


def test_random_pipelined_traffic_gets_the_same_answers_as_from_plain_uvicorn(db_url) -> None:
    """Differential: one random stream of requests, cut at random places, sent to the
    protocol path and to uvicorn's own protocol; the answers must match in order."""
    world = build_world(db_url, subscribers=6)
    keys = get_settings().signing_keys()
    rng = random.Random(20261126)
    good = [
        f"/c/{click_token(keys, world.send_id, link, sub)}"
        for link in (1, 2, 3)
        for sub in world.subscribers
    ]
    kinds = [
        lambda: get(rng.choice(good)),
        lambda: get(rng.choice(good)).replace(b"GET ", b"HEAD ", 1),
        lambda: get(rng.choice(good) + "?utm=x"),
        lambda: get(rng.choice(good)[:-2] + "AA"),  # tampered
        lambda: get("/healthz"),
        lambda: get("/c/"),
        lambda: (
            f"GET {rng.choice(good)} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        ).encode(),
        lambda: f"DELETE {rng.choice(good)} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
    ]
    warm = get(good[0])
    requests = [rng.choice(kinds)() for _ in range(150)]
    stream = b"".join(requests)
    cuts = sorted(rng.sample(range(1, len(stream)), 40))

    def answers_from(server: LiveServer) -> list[tuple[int, str | None]]:
        exchange(server.port, warm, 1)  # the send's links cached on both
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
            for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
                sock.sendall(stream[start:end])
                time.sleep(0.002)
            buffer = bytearray()
            got = [_read_answer(sock, buffer) for _ in requests]
        return [(a.status, a.headers.get("location")) for a in got]

    protocol = LiveServer(get_settings()).start()
    try:
        ours = answers_from(protocol)
        assert protocol.app.state.clicks.answered_by_protocol > 0
    finally:
        protocol.stop()
    plain = LiveServer(get_settings(), http="httptools").start()
    try:
        theirs = answers_from(plain)
    finally:
        plain.stop()
    assert ours == theirs
    assert {status for status, _ in ours} == {200, 302, 404, 405}
    recorded = sum(1 for status, _ in ours if status == 302)
    assert len(stored(db_url)) == 2 * (recorded + 1)  # both servers, with the warm-up click
