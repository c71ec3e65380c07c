"""One reading of the archive, every page of it rendered: briefs, index pages, feed.

A `Site` is built from what the database says went out, off the request path, and
never changes; when more goes out, a new one replaces it (`cache`), rendered whole
so requests have nothing left to do but a dictionary lookup. A brief's page depends
on that brief alone, so a new reading takes the pages (and parsed texts) of briefs
that did not change from the one before: a brief going out costs its own page, the
index pages and the feed. The static build writes the same documents to files.
Whatever a client makes up (a slug, a topic, a page number) that is not among them
gets the one 404 page.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from briefmail.archive.entries import Entry, entries
from briefmail.archive.feed import CONTENT_TYPE as FEED_TYPE
from briefmail.archive.feed import atom_feed
from briefmail.archive.pages import Pages, TopicLink
from briefmail.archive.published import published_briefs, went_out_count

PAGE_SIZE = 10
HTML_TYPE = "text/html; charset=utf-8"

IndexKey = tuple[str | None, int]  # (topic slug or None for all, page number)


@dataclass(frozen=True, slots=True)
class Document:
    body: bytes
    content_type: str
    status: int = 200
    etag: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "etag", '"' + hashlib.sha256(self.body).hexdigest()[:24] + '"')


@dataclass(frozen=True, slots=True)
class Site:
    version: int  # `published.went_out_count` when it was read
    entries: tuple[Entry, ...]
    briefs: dict[str, Document]
    indexes: dict[IndexKey, Document]
    feed: Document
    not_found: Document
    _entries: dict[str, Entry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_entries", {entry.slug: entry for entry in self.entries})

    def brief(self, slug: str) -> Document:
        return self.briefs.get(slug, self.not_found)

    def entry(self, slug: str) -> Entry | None:
        return self._entries.get(slug)

    def index(self, topic: str | None = None, page: int = 1) -> Document:
        return self.indexes.get((topic, page), self.not_found)


def read_site(
    session: Session, pages: Pages, *, now: datetime, previous: Site | None = None
) -> Site:
    """The archive as the database has it now (the count is read first: a brief going
    out meanwhile is in the pages and makes the next check read again)."""
    version = went_out_count(session)
    known = previous.entries if previous is not None else ()
    listed = entries(published_briefs(session), known)
    return build_site(listed, pages, version=version, now=now, previous=previous)


def build_site(
    listed: Sequence[Entry],
    pages: Pages,
    *,
    version: int,
    now: datetime,
    previous: Site | None = None,
) -> Site:
    topics = _topics(listed, pages)
    indexes: dict[IndexKey, Document] = {}
    for topic, shown in [(None, tuple(listed))] + [
        (t, tuple(e for e in listed if t.slug in e.topic_slugs)) for t in topics
    ]:
        count = max(1, math.ceil(len(shown) / PAGE_SIZE))
        for page in range(1, count + 1):
            html = pages.index(
                shown[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
                topics=topics,
                topic=topic,
                page=page,
                pages=count,
            )
            indexes[(topic.slug if topic else None, page)] = _html(html)
    options = pages.options
    feed = atom_feed(listed, urls=pages.urls, series=options.series, lang=options.lang, read_at=now)
    return Site(
        version=version,
        entries=tuple(listed),
        briefs={entry.slug: _brief_page(entry, pages, previous) for entry in listed},
        indexes=indexes,
        feed=Document(feed, FEED_TYPE),
        not_found=_html(pages.not_found(), 404),
    )


def _brief_page(entry: Entry, pages: Pages, previous: Site | None) -> Document:
    """Taken from the reading before when the brief, its text and dates are the same."""
    if previous is not None and previous.entry(entry.slug) == entry:
        return previous.briefs[entry.slug]
    return _html(pages.brief(entry))


def _topics(listed: Sequence[Entry], pages: Pages) -> list[TopicLink]:
    """Every topic of a listed brief: most briefs first, then by name."""
    counts = Counter(slug for entry in listed for slug in entry.topic_slugs)
    names = {t.slug: t.name for entry in reversed(listed) for t in entry.brief.topics}
    order = sorted(counts, key=lambda slug: (-counts[slug], names[slug].lower(), slug))
    return [TopicLink(slug, names[slug], pages.urls.index(slug)) for slug in order]


def _html(text: str, status: int = 200) -> Document:
    return Document(text.encode("utf-8"), HTML_TYPE, status)
