"""The archive's HTML: a brief as a web page, the index, the 404 page, the stylesheet.

A brief's page is built from the email's own context (`render.email.prepare_email`):
the same values, section roles, link ids and Markdown markup (without the inline
styles, see `render.markup`), in a web template with semantic HTML and a served
stylesheet whose colours and fonts are the email's (`render.style`). Rendering the
MJML output instead would give a 600-pixel table layout held together by inline
styles and a <style> block, which a Content-Security-Policy without 'unsafe-inline'
strips, and no room for the page's own head (canonical link, og: tags).

Links go straight to their destinations, not through the click redirect: an
anonymous web click cannot be told from a crawler by the scanner rules, which judge
a recipient's clicks, so counting them would blur figures marketing trusts. The fill
is `personalise.Template.fill` with link values only, so a per-recipient placeholder
reaching a page fails the render instead of showing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any

import jinja2

from briefmail.archive.entries import Entry
from briefmail.archive.urls import Urls
from briefmail.config import Settings
from briefmail.render import personalise as p
from briefmail.render import style
from briefmail.render.email import prepare_email

TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True, slots=True)
class SiteOptions:
    """What the pages need from the settings; the web app and the CLI build it."""

    series: str
    lang: str
    postal_address: str
    public_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> SiteOptions:
        return cls(
            series=settings.series_name,
            lang=settings.lang,
            postal_address=settings.postal_address,
            public_url=settings.public_url,
        )


@dataclass(frozen=True, slots=True)
class TopicLink:
    slug: str
    name: str
    url: str


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html",), disabled_extensions=("css",), default=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=1)
def stylesheet() -> str:
    return (
        _environment()
        .get_template("archive.css")
        .render(c=style.COLORS, font=style.FONT, mono=style.MONO)
    )


def stylesheet_version() -> str:
    """Part of the stylesheet's URL, so it can be cached for good."""
    return hashlib.sha256(stylesheet().encode()).hexdigest()[:12]


class Pages:
    """Renders the archive's pages for one set of URLs (the app's or a static build's)."""

    def __init__(self, options: SiteOptions, urls: Urls) -> None:
        self.options = options
        self.urls = urls
        self.common = {
            "lang": options.lang,
            "series": options.series,
            "postal_address": options.postal_address,
            "urls": urls,
            "stylesheet": urls.stylesheet(stylesheet_version()),
        }

    def _render(self, template: str, **context: Any) -> str:
        return _environment().get_template(template).render(self.common | context)

    def brief(self, entry: Entry) -> str:
        prepared = prepare_email(
            entry.brief,
            lang=self.options.lang,
            postal_address=self.options.postal_address,
            public_url=self.options.public_url,
            inline_styles=False,
        )
        brief = entry.brief
        page = prepared.context | {
            "brief_series": brief.series,  # the kicker's, as in the email
            "series": self.options.series,
            "page_title": f"{brief.title} · {self.options.series}",
            "og_title": brief.title,
            "description": brief.abstract,
            "canonical": self.urls.brief_canonical(brief.slug),
            "published": entry.published.isoformat(),
            "updated": entry.updated.isoformat(),
            "topic_links": [
                TopicLink(t.slug, t.name, self.urls.index(t.slug)) for t in brief.topics
            ],
        }
        html = self._render("brief.html", **page)
        destinations = {p.link_key(link.link_id): escape(link.url) for link in prepared.links}
        return p.Template.compile(html).fill(destinations)

    def index(
        self,
        entries: Sequence[Entry],
        *,
        topics: Sequence[TopicLink],
        topic: TopicLink | None,
        page: int,
        pages: int,
    ) -> str:
        series = self.options.series
        heading = f"{series}: the archive" if topic is None else f"Briefs on {topic.name}"
        suffix = f" · page {page}" if page > 1 else ""
        slug = topic.slug if topic is not None else None
        return self._render(
            "index.html",
            page_title=f"{heading}{suffix}" + ("" if topic is None else f" · {series}"),
            og_title=heading,
            heading=heading,
            description=f"Every {series} that went out, newest first.",
            canonical=self.urls.index_canonical(slug, page),
            entries=entries,
            topics=topics,
            topic=slug,
            page=page,
            pages=pages,
        )

    def not_found(self) -> str:
        return self._render(
            "not_found.html",
            page_title=f"No brief here · {self.options.series}",
            og_title="No brief here",
            description="This address names no brief that went out.",
            canonical=self.urls.index_canonical(),
        )
