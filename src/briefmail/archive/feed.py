"""The Atom feed (RFC 4287) of the latest briefs that went out.

Written with ElementTree, so every value is escaped by an XML serializer rather than
by a template. Entry ids are the briefs' canonical URLs: permanent as long as the
public URL is. The feed's `updated` is its newest entry's, so it changes only when a
brief goes out (an empty feed says when the archive was read).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from briefmail.archive.entries import Entry
from briefmail.archive.urls import Urls

ATOM = "http://www.w3.org/2005/Atom"
FEED_SIZE = 20
CONTENT_TYPE = "application/atom+xml; charset=utf-8"


def _el(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, name, attrs)
    element.text = text
    return element


def _when(value: datetime) -> str:
    """RFC 3339, in UTC, to the second."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def atom_feed(
    entries: Sequence[Entry], *, urls: Urls, series: str, lang: str, read_at: datetime
) -> bytes:
    """The first `FEED_SIZE` of `entries` (newest first) as an Atom document."""
    shown = list(entries[:FEED_SIZE])
    # Unprefixed names in the Atom namespace, declared once on the root.
    feed = ET.Element("feed", {"xmlns": ATOM, "xml:lang": lang})
    _el(feed, "id", urls.feed)
    _el(feed, "title", series)
    _el(feed, "subtitle", f"Every {series} that went out, newest first.")
    _el(feed, "updated", _when(max((e.updated for e in shown), default=read_at)))
    _el(feed, "link", rel="self", type="application/atom+xml", href=urls.feed)
    _el(feed, "link", rel="alternate", type="text/html", href=urls.index_canonical())
    author = _el(feed, "author")
    _el(author, "name", series)
    _el(feed, "generator", "briefmail")
    for entry in shown:
        brief = entry.brief
        item = _el(feed, "entry")
        url = urls.brief_canonical(brief.slug)
        _el(item, "id", url)
        _el(item, "title", brief.title, type="text")
        _el(item, "link", rel="alternate", type="text/html", href=url)
        _el(item, "published", _when(entry.published))
        _el(item, "updated", _when(entry.updated))
        _el(item, "summary", brief.abstract, type="text")
        for topic in brief.topics:
            _el(item, "category", term=topic.slug, label=topic.name)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document
