"""/api/v1/docs in real Chromium under a strict Content-Security-Policy (no inline
script, nothing from another origin): Swagger UI starts and lists the operations."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from briefmail.config import get_settings
from tests.browser import chromium
from tests.web.server import LiveServer

pytestmark = pytest.mark.browser
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"


class StrictCsp:
    """What an app-wide security-headers layer would add to every answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def with_csp(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"content-security-policy", CSP.encode()),
                ]
            await send(message)

        await self.app(scope, receive, with_csp)


def test_the_docs_page_works_under_a_strict_csp(db_url: str) -> None:
    server = LiveServer(get_settings())
    server.app.add_middleware(StrictCsp)
    server.start()
    try:
        page_html = httpx.get(f"{server.url}/api/v1/docs").text
        assert "<script>" not in page_html  # every script is a file
        assert "//" not in page_html.replace("<!doctype html>", "")  # nothing from elsewhere
        with chromium() as browser:
            page = browser.new_page()
            violations: list[str] = []
            page.on(
                "console",
                lambda m: (
                    violations.append(m.text) if "Content Security Policy" in m.text else None
                ),
            )
            outside: list[str] = []
            page.on(
                "request",
                lambda r: outside.append(r.url) if not r.url.startswith(server.url) else None,
            )
            page.goto(f"{server.url}/api/v1/docs")
            page.wait_for_selector(".opblock-summary-path", timeout=30_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            assert "/briefs/{slug}/approve" in " ".join(paths).replace("\u200b", "")
            assert page.locator(".info .title").inner_text().startswith("briefmail API")
            assert violations == []  # no script, style or image blocked
            assert outside == []
    finally:
        server.stop()
