"""Rendering pages: one Jinja environment, one set of security headers.

Every page is autoescaped HTML with its one small stylesheet inlined (a page works
with no second request, and the Content-Security-Policy allows exactly that style by
its hash, no scripts at all). Error pages are plain: a tampered or unknown link gets a
404 page and never a redirect anywhere.
"""

from __future__ import annotations

import base64
import hashlib
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from briefmail.web.security_headers import EVERY_ANSWER

TEMPLATES = Path(__file__).with_name("templates")


class Pages:
    """The page renderer for one app (its language, series name and postal address)."""

    def __init__(self, *, lang: str, from_address: str, postal_address: str) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=jinja2.select_autoescape(disabled_extensions=("txt",), default=True),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        css = (TEMPLATES / "style.css").read_text(encoding="utf-8")
        digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        # The app adds these to every answer (`security_headers`); pages carry them
        # too, for the ones answered in front of it (a bad /c/ link's 404).
        self.headers = {
            **EVERY_ANSWER,
            "content-security-policy": (
                f"default-src 'none'; style-src 'sha256-{digest}'; form-action 'self'; "
                "base-uri 'none'; frame-ancestors 'none'"
            ),
            "cache-control": "no-store",
        }
        self._not_found: HTMLResponse | None = None
        series = parseaddr(from_address)[0] or "Clinician Learning Brief"
        self.common = {
            "css": Markup(css),  # noqa: S704 - our own stylesheet file, not input
            "lang": lang,
            "series": series,
            "postal_address": postal_address,
        }

    def render(self, template: str, status: int = 200, /, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(**self.common, **context)
        return HTMLResponse(html, status_code=status, headers=self.headers)

    def not_found(self) -> HTMLResponse:
        """The one 404 page (rendered once: bad links can arrive at redirect rates)."""
        if self._not_found is None:
            self._not_found = self.error(
                404,
                "Link not found",
                "This link is not valid. It may have been mistyped or cut short by your "
                "mail program.",
            )
        return self._not_found

    def method_not_allowed(self, allow: str) -> HTMLResponse:
        response = self.error(405, "Method not allowed", "This address does not accept that.")
        response.headers["allow"] = allow
        return response

    def error(self, status: int, heading: str, body: str) -> HTMLResponse:
        return self.render("message.html", status, title=heading, heading=heading, body=body)


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def plain(text: str, status: int = 200) -> Response:
    return PlainTextResponse(text, status_code=status, headers={"cache-control": "no-store"})
