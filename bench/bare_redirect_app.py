"""The baseline for bench/redirect.py: Starlette on uvicorn that only checks the HMAC
token and answers 302 to a fixed URL. No link lookup, no click recording.

    uvicorn --factory bench.bare_redirect_app:create_app (BRIEFMAIL_SECRET_KEY set)
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from briefmail.tracking import tokens
from briefmail.tracking.tokens import BadToken, Purpose


def create_app() -> Starlette:
    keys = [k.strip().encode() for k in os.environ["BRIEFMAIL_SECRET_KEY"].split(",")]
    found = Response(status_code=302, headers={"location": "https://example.org/"})
    missing = PlainTextResponse("Not found", status_code=404)

    async def click(request: Request) -> Response:
        try:
            tokens.verify(keys, request.path_params["token"], Purpose.CLICK, arity=3)
        except BadToken:
            return missing
        return found

    return Starlette(routes=[Route("/c/{token}", click)])
