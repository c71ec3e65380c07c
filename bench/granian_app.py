"""bench/redirect.py's granian target: the real app as `briefmail web` would serve it on
granian, X-Forwarded-For handled by granian's wrapper (uvicorn does that per request
for `briefmail web`, so a row without it would flatter granian).

    granian --interface asgi --factory bench.granian_app:create_app
"""

from __future__ import annotations

from granian.utils.proxies import wrap_asgi_with_proxy_headers
from starlette.types import ASGIApp

from briefmail.web.app import create_app as create_real_app


def create_app() -> ASGIApp:
    wrapped: ASGIApp = wrap_asgi_with_proxy_headers(create_real_app(), "127.0.0.1")
    return wrapped
