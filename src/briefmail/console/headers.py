"""What the console adds to the app-wide security headers (`web.security_headers`).

Console pages load only their own files (`/console/static/`) and run under the app's
default Content-Security-Policy: no inline script, no inline event handler, no inline
style, no eval, no other origin. htmx is served from there and configured (a JSON
`<meta>`, not a script) never to inject styles or evaluate code, so it runs under that
policy. The email preview sets its own policy, which lets the console frame it
(`PREVIEW_POLICY`); the app-wide headers never replace one a response already has.
Console answers hold personal data, so none is kept by a cache (static files aside).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The email as subscribers get it, framed by the console page of the same origin: its
# own inline styles and remote images, never a script, and nothing but us may frame it.
PREVIEW_POLICY = (
    "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox allow-popups "
    "allow-popups-to-escape-sandbox"
)


class NoStore:
    """Adds `cache-control: no-store` to every console answer but its static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith("/console/static/"):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
