"""The console's security headers: a strict Content-Security-Policy and friends.

Console pages load only their own files (`/console/static/`): no inline script, no
inline event handler, no inline style, no eval, no other origin. htmx is served from
there and configured (a JSON `<meta>`, not a script) never to inject styles or
evaluate code, so it runs under this policy. Every response of the console gets
these headers unless the handler set its own (the email preview sets a policy that
lets the console frame it: `PREVIEW_POLICY`).

Written as ASGI middleware around the console only, so an app-wide headers
mechanism can take the console's policy over by path (`CONSOLE_POLICY`) and this
module shrinks to the two constants.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONSOLE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
# The email as subscribers get it, framed by the console page of the same origin: its
# own inline styles and remote images, never a script, and nothing but us may frame it.
PREVIEW_POLICY = (
    "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox allow-popups "
    "allow-popups-to-escape-sandbox"
)
CONSOLE_HEADERS = {
    "content-security-policy": CONSOLE_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
NO_STORE = {"cache-control": "no-store"}


class ConsoleHeaders:
    """Adds `CONSOLE_HEADERS` (and no-store, for anything but static files) to every
    response that does not carry its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/console/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in CONSOLE_HEADERS.items():
                    headers.setdefault(name, value)
                if not static:
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
