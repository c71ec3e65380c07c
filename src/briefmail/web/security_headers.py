"""Security headers on every answer of the app, by default.

Every page this app serves, and every page added later (the API, the console, the
public archive), gets them without asking: an answer cannot be framed by another site
(clickjacking), sniffed into another type, or leak its URL (which may hold a signed
token) in a Referer to another site, and an HTML answer that sets no
Content-Security-Policy of its own gets one that allows no inline script and nothing
from elsewhere (scripts, styles, images and fonts from this origin only). A page may
set a stricter policy itself (`pages.Pages` allows its one inline stylesheet by hash
and no script at all); `frame-ancestors 'none'` is added to any policy that lacks it.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# `data:` images (icons drawn by our own stylesheets and the API docs' bundle) carry
# no script; frames only from this origin (the console's email previews).
DEFAULT_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
EVERY_ANSWER = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",  # what browsers without frame-ancestors understand
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


class SecurityHeaders:
    """ASGI middleware: adds the headers above to each response that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                secure(MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, send_secured)


def secure(headers: MutableHeaders) -> None:
    for name, value in EVERY_ANSWER.items():
        headers.setdefault(name, value)
    policy = headers.get("content-security-policy")
    if policy is None:
        if headers.get("content-type", "").startswith("text/html"):
            headers["content-security-policy"] = DEFAULT_CSP
    elif "frame-ancestors" not in policy:
        headers["content-security-policy"] = f"{policy.rstrip('; ')}; frame-ancestors 'none'"
