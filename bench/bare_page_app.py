"""The baseline for bench/archive.py: Starlette on uvicorn answering one fixed page.

    uvicorn --factory bench.bare_page_app:create_app (BENCH_PAGE names the page's file)

The least a Starlette route can do for a page: no cache check, no lookup, no ETag.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def create_app() -> Starlette:
    body = Path(os.environ["BENCH_PAGE"]).read_bytes()

    async def page(request: Request) -> Response:
        return Response(body, media_type="text/html; charset=utf-8")

    return Starlette(routes=[Route("/archive/{slug}", page)])
