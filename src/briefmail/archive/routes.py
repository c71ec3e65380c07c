"""The archive in the web app: /archive, /archive/SLUG, /feed.xml and the stylesheet.

Answers come from the in-memory `Site` (see `cache`), with an ETag so browsers and
feed readers revalidate for a 304, and a short public max-age so a new brief shows
within a minute everywhere. Pages are the same for everyone and set no cookie.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from briefmail.archive.cache import ArchiveCache, ArchiveUnavailable
from briefmail.archive.pages import Pages, SiteOptions, stylesheet, stylesheet_version
from briefmail.archive.site import Document, Site
from briefmail.archive.urls import FEED, STYLESHEET, Urls
from briefmail.config import Settings
from briefmail.render.webcopy import ARCHIVE_PATH

PUBLIC = "public, max-age=60"
FOREVER = "public, max-age=31536000, immutable"
_MAX_PAGE_DIGITS = 6


class ArchiveRoutes:
    def __init__(self, cache: ArchiveCache) -> None:
        self.cache = cache
        self.css = stylesheet().encode("utf-8")
        self.css_version = stylesheet_version()

    async def index(self, request: Request) -> Response:
        params = request.query_params
        topic = params.get("topic") or None
        text = params.get("page", "1")
        page = int(text) if text.isdigit() and len(text) <= _MAX_PAGE_DIGITS else 0
        return await self._answer(request, lambda site: site.index(topic, page))

    async def brief(self, request: Request) -> Response:
        slug: str = request.path_params["slug"]
        return await self._answer(request, lambda site: site.brief(slug))

    async def feed(self, request: Request) -> Response:
        return await self._answer(request, lambda site: site.feed)

    async def _answer(self, request: Request, pick: Callable[[Site], Document]) -> Response:
        try:
            site = await self.cache.site()
        except ArchiveUnavailable:
            return PlainTextResponse(
                "The archive is unavailable just now. Please try again in a minute.",
                status_code=503,
                headers={"retry-after": "30", "cache-control": "no-store"},
            )
        return _answer(request, pick(site))

    async def stylesheet(self, request: Request) -> Response:
        current = request.query_params.get("v") == self.css_version
        return Response(
            self.css,
            media_type="text/css; charset=utf-8",
            headers={"cache-control": FOREVER if current else "no-cache"},
        )

    def routes(self) -> list[BaseRoute]:
        return [
            Route(ARCHIVE_PATH, self.index, methods=["GET"]),
            # Before the slug route: a slug never has a dot, so this cannot hide a brief.
            Route(f"{ARCHIVE_PATH}/{STYLESHEET}", self.stylesheet, methods=["GET"]),
            Route(ARCHIVE_PATH + "/{slug}", self.brief, methods=["GET"]),
            Route(f"/{FEED}", self.feed, methods=["GET"]),
        ]


def archive_routes(settings: Settings, sessions: sessionmaker[Session]) -> list[BaseRoute]:
    pages = Pages(SiteOptions.from_settings(settings), Urls.for_app(settings.public_url))
    cache = ArchiveCache(sessions, pages, refresh_seconds=settings.archive_refresh_seconds)
    return ArchiveRoutes(cache).routes()


def _answer(request: Request, document: Document) -> Response:
    headers = {
        "etag": document.etag,
        "cache-control": PUBLIC if document.status == 200 else "no-cache",
    }
    if document.status == 200 and _matches(request.headers.get("if-none-match"), document.etag):
        return Response(status_code=304, headers=headers)
    return Response(
        document.body,
        status_code=document.status,
        media_type=document.content_type,
        headers=headers,
    )


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110's weak comparison: the tag, weak or strong, or `*`."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in tags or "*" in tags
