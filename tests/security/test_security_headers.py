"""Framing, sniffing, leaking a token-bearing URL in a Referer, inline script: every
HTML page answers with the headers that stop them (the subscriber pages, the archive,
the console, the API's docs, error pages), and so does a page added later without
asking."""

from __future__ import annotations

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from briefmail.config import get_settings
from briefmail.tracking.tokens import Purpose, subscriber_token
from tests.tracking.factories import build_world
from tests.web.conftest import BROWSER_UA
from tests.web.server import LiveServer
from tests.web.signups import confirm_path, outbox_messages


def check(answer: httpx.Response) -> None:
    where = f"{answer.request.method} {answer.request.url.path} {answer.status_code}"
    assert answer.headers["content-type"].startswith("text/html"), where
    assert answer.headers.get("x-content-type-options") == "nosniff", where
    assert answer.headers.get("referrer-policy") in ("same-origin", "no-referrer"), where
    policy = answer.headers.get("content-security-policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives.get("frame-ancestors") == ["'none'"], where
    scripts = directives.get("script-src", directives.get("default-src"))
    assert scripts is not None, where
    assert "'unsafe-inline'" not in scripts, where
    assert "'unsafe-eval'" not in scripts, where
    assert "*" not in scripts, where


def test_every_page_carries_the_security_headers(db_url, start_server) -> None:
    world = build_world(db_url, subscribers=1)
    sub = world.subscribers[0]
    keys = get_settings().signing_keys()
    server = start_server()
    client = httpx.Client(base_url=server.url, headers={"user-agent": BROWSER_UA})
    secret = world.secrets[sub]
    answers = [
        client.get("/subscribe"),
        client.post("/subscribe", data={"email": "not an address"}),  # 400
        client.post("/subscribe", data={"email": "headers@example.org"}),
        client.get(f"/u/{subscriber_token(keys, Purpose.UNSUBSCRIBE, sub, secret)}"),
        client.get(f"/preferences/{subscriber_token(keys, Purpose.PREFERENCES, sub, secret)}"),
        client.get("/preferences/not-a-token"),  # 404
        client.get("/c/not-a-token"),  # 404, answered in front of the router
        client.delete("/subscribe"),  # 405
        client.get("/no-such-page"),
        client.get("/archive"),
        client.get("/archive?topic=no-such-topic"),  # the archive's 404
        client.get("/console/login"),
        client.get("/api/v1/docs"),
    ]
    answers.append(client.get(confirm_path(outbox_messages(1)[0])))
    for answer in answers:
        check(answer)
    too_big = client.post(  # answered as plain text by the body limit, in front of the page
        "/subscribe",
        content=b"x" * 40_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert too_big.status_code == 413
    assert too_big.headers["x-content-type-options"] == "nosniff"
    client.close()


async def _newly_added_page(_request: Request) -> Response:
    return HTMLResponse("<!doctype html><title>Later</title><p>A page added later</p>")


async def _failing_page(_request: Request) -> Response:
    raise RuntimeError("a bug")  # answered by the app's 500 page, outside the middleware


def test_a_page_added_later_gets_them_without_asking(db_url) -> None:
    server = LiveServer(get_settings())
    server.app.router.routes.append(Route("/added-later", _newly_added_page))
    server.app.router.routes.append(Route("/failing", _failing_page))
    server.start()
    try:
        check(httpx.get(f"{server.url}/added-later"))
        failed = httpx.get(f"{server.url}/failing")
        assert failed.status_code == 500
        check(failed)
        api = httpx.get(f"{server.url}/healthz")  # not HTML: no page policy, still nosniff
        assert api.headers["x-content-type-options"] == "nosniff"
    finally:
        server.stop()
