"""Where the archive's pages are: the web app's routes, or a static build's files.

Pages link to each other through these methods only, so the same templates serve
both. Links in the app are root-relative; a static build's are absolute (it may be
served from any address: `--base-url`). Canonical links, `og:url` and the feed are
always absolute; in the app a brief's canonical URL is the email's "View in browser"
link (`webcopy.archive_url`). Query strings mean nothing to a static host, so its
topic and page views are files of their own, named with dots, which a brief's slug
never contains: `index.2.html`, `topic.learning-design.html`,
`topic.learning-design.2.html`; a brief is a folder, `SLUG/index.html`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from briefmail.render.webcopy import ARCHIVE_PATH, archive_url

STYLESHEET = "archive.css"
FEED = "feed.xml"


@dataclass(frozen=True, slots=True)
class Urls:
    public_url: str  # the web app (sign-ups go there from a static build too)
    base_url: str  # the archive index, absolute, no trailing slash
    links: str  # what links between pages start with
    static: bool

    @classmethod
    def for_app(cls, public_url: str) -> Urls:
        public = public_url.rstrip("/")
        return cls(public, public + ARCHIVE_PATH, ARCHIVE_PATH, static=False)

    @classmethod
    def for_static(cls, base_url: str, public_url: str) -> Urls:
        base = base_url.rstrip("/")
        return cls(public_url.rstrip("/"), base, base, static=True)

    def brief(self, slug: str) -> str:
        return f"{self.links}/{quote(slug, safe='')}" + ("/" if self.static else "")

    def brief_canonical(self, slug: str) -> str:
        if self.static:
            return f"{self.base_url}/{quote(slug, safe='')}/"
        return archive_url(self.public_url, slug)

    def index(self, topic: str | None = None, page: int = 1) -> str:
        return self._index(self.links, topic, page)

    def index_canonical(self, topic: str | None = None, page: int = 1) -> str:
        return self._index(self.base_url, topic, page)

    def _index(self, start: str, topic: str | None, page: int) -> str:
        if self.static:
            return f"{start}/{index_file(topic, page)}".removesuffix("index.html")
        query = {k: v for k, v in (("topic", topic), ("page", page if page > 1 else None)) if v}
        return start + (f"?{urlencode(query)}" if query else "")

    @property
    def feed(self) -> str:
        """Absolute: the feed's own id and self link, and the pages' discovery link."""
        return f"{self.base_url if self.static else self.public_url}/{FEED}"

    @property
    def subscribe(self) -> str:
        """The double opt-in form at /subscribe: its page and its action."""
        return f"{self.public_url}/subscribe" if self.static else "/subscribe"

    def stylesheet(self, version: str) -> str:
        return f"{self.links}/{STYLESHEET}?v={version}"


def index_file(topic: str | None, page: int) -> str:
    """A static build's file for an index view (see the module docstring)."""
    name = "index" if topic is None else f"topic.{topic}"
    return f"{name}.html" if page == 1 else f"{name}.{page}.html"


def brief_file(slug: str) -> str:
    return f"{slug}/index.html"
