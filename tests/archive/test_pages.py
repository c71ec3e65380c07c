"""The archive's pages and feed from briefs in memory: escaping, CSP-safe markup,
pagination, topics. (What went out is read from the database in test_published.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser
import pytest

from briefmail.archive.entries import Entry
from briefmail.archive.pages import Pages, SiteOptions
from briefmail.archive.site import PAGE_SIZE, Site, build_site
from briefmail.archive.urls import Urls
from briefmail.briefs.parse import parse_brief
from tests.archive.atom import atom_problems
from tests.archive.world import brief_text
from tests.briefs.variants import edited
from tests.render.html_doc import parse_html, squash
from tests.render.test_escaping import EVIL, IMG, hostile_text

T0 = datetime(2024, 1, 15, 14, 0, tzinfo=UTC)
PUBLIC = "https://brief.example.org"
OPTIONS = SiteOptions("Clinician Learning Brief", "en", f"Street {EVIL}", PUBLIC)


def site(*texts: str, urls: Urls | None = None) -> Site:
    """Briefs that went out a week apart, the first oldest."""
    entries = [
        Entry(parse_brief(text, f"b{n}.md"), T0 + timedelta(days=7 * n), T0 + timedelta(days=7 * n))
        for n, text in enumerate(texts)
    ]
    entries.reverse()
    pages = Pages(OPTIONS, urls or Urls.for_app(PUBLIC))
    return build_site(entries, pages, version=len(texts), now=T0)


def weekly(count: int, topics_every: int = 3) -> list[str]:
    """`count` briefs; every `topics_every`th one is about "Clinical AI" only."""
    texts = []
    for n in range(count):
        text = brief_text(f"Brief number {n}", (T0 + timedelta(days=7 * n)).date().isoformat())
        if n % topics_every == 0:
            text = edited(
                "  - Learning design\n  - Workflow-based education\n  - Accreditation operations\n",
                "  - Clinical AI\n",
                text,
            )
        texts.append(text)
    return texts


def every_document(read: Site) -> list[str]:
    docs = [*read.briefs.values(), *read.indexes.values(), read.not_found]
    return [doc.body.decode() for doc in docs]


def test_brief_text_is_escaped_on_pages_and_in_the_feed() -> None:
    read = site(hostile_text())
    (slug,) = read.briefs
    for html in [read.brief(slug).body.decode(), read.index().body.decode()]:
        lowered = html.lower()
        assert "<script" not in lowered
        assert "<iframe" not in lowered
        assert "<img src=x" not in lowered
        doc = parse_html(html)
        assert not {e.tag for e in doc.iter()} & {"script", "iframe", "b", "i"}
        for element in doc.iter():
            assert not any(name.startswith("on") for name in element.attrs), element
        text = squash(doc.text)
        assert 'Title <script>alert("x")</script> & "q" \'s\'' in text
        assert f"Street {EVIL}" in text
    page = parse_html(read.brief(slug).body.decode())
    metas = {m.attrs.get("property"): m.attrs.get("content") for m in page.iter("meta")}
    assert metas["og:title"] == f"Title {EVIL}"
    assert f"Topic {IMG}" in squash(page.text)
    assert atom_problems(read.feed.body) == []
    (entry,) = feedparser.parse(read.feed.body).entries
    assert entry.title == f"Title {EVIL}"
    assert entry.summary == f"Abstract {EVIL}"


def test_pages_carry_no_inline_style_or_script() -> None:
    # A Content-Security-Policy without 'unsafe-inline' would block any of these.
    read = site(*weekly(3))
    for html in every_document(read):
        doc = parse_html(html)
        assert not doc.iter("script")
        assert not doc.iter("style")
        for element in doc.iter():
            assert "style" not in element.attrs, element
            assert not any(name.startswith("on") for name in element.attrs), element
        assert [
            link.attrs["href"] for link in doc.iter("link") if link.attrs["rel"] == "stylesheet"
        ]


def test_pages_of_ten_newest_first_with_topics() -> None:
    read = site(*weekly(PAGE_SIZE + 3))
    first = parse_html(read.index().body.decode())
    titles = [squash(h.text) for h in first.iter("h2") if h.iter("a")]
    assert titles == [f"Brief number {n}" for n in range(PAGE_SIZE + 2, 2, -1)]
    nav = {a.attrs.get("rel"): a.attrs["href"] for a in first.iter("a") if a.attrs.get("rel")}
    assert nav == {"next": "/archive?page=2"}
    second = parse_html(read.index(page=2).body.decode())
    assert [squash(h.text) for h in second.iter("h2") if h.iter("a")] == [
        "Brief number 2",
        "Brief number 1",
        "Brief number 0",
    ]
    assert {
        a.attrs.get("rel"): a.attrs["href"] for a in second.iter("a") if a.attrs.get("rel")
    } == {"prev": "/archive"}
    canonical = [
        link.attrs["href"] for link in second.iter("link") if link.attrs["rel"] == "canonical"
    ]
    assert canonical == [f"{PUBLIC}/archive?page=2"]
    assert read.index(page=3).status == 404

    ai = parse_html(read.index("clinical-ai").body.decode())
    assert [squash(h.text) for h in ai.iter("h2") if h.iter("a")] == [
        f"Brief number {n}" for n in (12, 9, 6, 3, 0)
    ]
    current = [a for a in ai.iter("a") if a.attrs.get("aria-current") == "page"]
    assert [squash(a.text) for a in current] == ["Clinical AI"]
    (topic_nav,) = [n for n in first.iter("nav") if n.attrs.get("class") == "filter"]
    pills = [squash(a.text) for a in topic_nav.iter("a")]
    # "All topics", then by how many briefs (the three on 8 briefs, by name), then AI.
    assert pills == [
        "All topics",
        "Accreditation operations",
        "Learning design",
        "Workflow-based education",
        "Clinical AI",
    ]


def test_the_feed_holds_the_latest_twenty() -> None:
    read = site(*weekly(23))
    assert atom_problems(read.feed.body) == []
    parsed = feedparser.parse(read.feed.body)
    assert not parsed.bozo
    assert parsed.feed.title == "Clinician Learning Brief"
    assert [e.title for e in parsed.entries] == [f"Brief number {n}" for n in range(22, 2, -1)]
    newest = parsed.entries[0]
    assert newest.link == f"{PUBLIC}/archive/" + read.entries[0].slug
    assert newest.updated == (T0 + timedelta(days=7 * 22)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [t.term for t in newest.tags] == [
        "learning-design",
        "workflow-based-education",
        "accreditation-operations",
    ]
    assert parsed.feed.updated == newest.updated


def test_an_empty_archive_is_still_a_valid_feed_and_page() -> None:
    read = site()
    assert atom_problems(read.feed.body) == []
    assert "No brief has gone out yet" in read.index().body.decode()


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        (b"<feed xmlns='http://www.w3.org/2005/Atom'><title>t</title></feed>", "id"),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'><id>x", "well-formed"),
        (b"<rss version='2.0'><channel/></rss>", "not an Atom feed"),
    ],
)
def test_the_feed_check_finds_what_is_wrong(broken: bytes, problem: str) -> None:
    # Guards the checks above: broken feeds are reported.
    assert problem in "\n".join(atom_problems(broken))


def test_the_feed_check_applies_the_rfc_rules_the_schema_leaves_out() -> None:
    good = site(brief_text()).feed.body
    assert atom_problems(good) == []
    no_author = good.replace(b"<author><name>Clinician Learning Brief</name></author>", b"")
    assert any(p.startswith("4.1.1: neither") for p in atom_problems(no_author))
    no_link = good.replace(
        b'<link rel="alternate" type="text/html" href="https://brief.example.org/archive/',
        b'<link rel="related" type="text/html" href="https://brief.example.org/archive/',
    )
    assert any(p.startswith("4.1.2") for p in atom_problems(no_link))
    zone_less = good.replace(b"T14:00:00Z</published>", b"T14:00:00</published>")
    assert any(p.startswith("3.3") for p in atom_problems(zone_less))
    relative = good.replace(b"<id>https://brief.example.org/feed.xml</id>", b"<id>feed.xml</id>")
    assert any(p.startswith("4.2.6") for p in atom_problems(relative))


def test_static_urls_are_files_and_absolute() -> None:
    urls = Urls.for_static("https://cdn.example.net/brief/", PUBLIC)
    read = site(*weekly(PAGE_SIZE + 1, topics_every=100), urls=urls)
    doc = parse_html(read.index().body.decode())
    links = {a.attrs["href"] for a in doc.iter("a")}
    slug = read.entries[0].slug
    assert f"https://cdn.example.net/brief/{slug}/" in links
    assert "https://cdn.example.net/brief/index.2.html" in links
    assert "https://cdn.example.net/brief/topic.learning-design.html" in links
    assert "https://cdn.example.net/brief/" in links
    assert [f.attrs["action"] for f in doc.iter("form")] == [f"{PUBLIC}/subscribe"]
    page = parse_html(read.brief(slug).body.decode())
    canonical = [
        link.attrs["href"] for link in page.iter("link") if link.attrs["rel"] == "canonical"
    ]
    assert canonical == [f"https://cdn.example.net/brief/{slug}/"]


def test_a_new_reading_renders_only_what_changed() -> None:
    pages = Pages(OPTIONS, Urls.for_app(PUBLIC))
    first, second = (parse_brief(text, f"b{n}.md") for n, text in enumerate(weekly(2)))
    before = build_site([Entry(first, T0, T0)], pages, version=1, now=T0)
    later = T0 + timedelta(days=7)
    fixed = weekly(1)[0].replace("Clinician-educator support is moving", "Corrected: moving")
    corrected = Entry(parse_brief(fixed, "c.md"), T0, later)
    after = build_site(
        [Entry(second, later, later), Entry(first, T0, T0)], pages, version=2, now=T0,
        previous=before,
    )  # fmt: skip
    assert after.brief(first.slug) is before.brief(first.slug)  # taken over as it was
    assert "Brief number 1" in after.brief(second.slug).body.decode()
    assert "Brief number 1" in after.index().body.decode()  # lists are rendered anew
    again = build_site([corrected], pages, version=3, now=T0, previous=after)
    assert again.brief(first.slug) is not after.brief(first.slug)  # a new text: a new page
    assert "Corrected: moving" in again.brief(first.slug).body.decode()
