"""Brief text is text: markup in any field or in the body reaches readers escaped."""

from __future__ import annotations

from typing import Any

import yaml

from briefmail.briefs.parse import parse_brief
from briefmail.render.email import render_email
from briefmail.render.model import RenderedEmail
from tests.render.conftest import PUBLIC
from tests.render.html_doc import Element, parse_html, squash

EVIL = '<script>alert("x")</script> & "q" \'s\''
IMG = "<img src=x onerror=alert(1)>"


def hostile_text() -> str:
    """A brief with markup in every field and in the body (the archive tests use it too)."""
    front: dict[str, Any] = {
        "series": f"Series {EVIL}",
        "kicker": f"Kicker {IMG}",
        "title": f"Title {EVIL}",
        "topics": [f"Topic {IMG}", "Plain topic"],
        "coverage": {"start": "2024-01-08", "end": "2024-01-14"},
        "abstract": f"Abstract {EVIL}",
        "takeaways": [f"Takeaway {EVIL}"],
        "sources": [
            {
                "kind": f"Kind {IMG}",
                "title": f'Source "title" {EVIL}',
                "outlet": f"Outlet {EVIL}",
                "segment": f"Seg {IMG}",
                "summary": f"Summary {EVIL}",
                "url": "https://example.org/a?b=1&c=2",
            }
        ],
        "cta": {
            "headline": f"Headline {EVIL}",
            "body": f"Body {EVIL}",
            "label": f"Label {EVIL}",
            "url": "https://example.org/demo",
        },
    }
    body = (
        f"Lead {EVIL} and {IMG} [label <b>bold</b>](source:1).\n\n"
        "## Heading <i>italic</i>\n\n"
        '![alt "quoted" <x> onload=y](https://example.org/i.png?a=1&b="2")\n\n'
        "- item <iframe src=https://evil.example.org></iframe>\n\n"
        '<div onclick="steal()">raw block html</div>\n'
    )
    return "---\n" + yaml.safe_dump(front, allow_unicode=True) + "---\n" + body


def hostile_brief() -> RenderedEmail:
    brief = parse_brief(hostile_text(), "evil.md")
    return render_email(brief, postal_address=f"Street {EVIL}", public_url=PUBLIC)


def all_elements(doc: Element) -> list[Element]:
    return doc.iter()


def test_no_markup_from_the_brief_becomes_markup() -> None:
    rendered = hostile_brief()
    html = rendered.html
    lowered = html.lower()
    assert "<script" not in lowered
    assert "<iframe" not in lowered
    assert "<img src=x" not in lowered
    assert "<div onclick" not in lowered
    doc = parse_html(html)
    tags = {element.tag for element in all_elements(doc)}
    assert not tags & {"script", "iframe", "b", "i"}
    for element in all_elements(doc):
        assert not any(name.startswith("on") for name in element.attrs), element
    # ...and it is all still there, as text a reader can see.
    text = squash(doc.text)
    assert 'Title <script>alert("x")</script> & "q" \'s\'' in text
    assert "Lead <script>" in text
    assert "<img src=x onerror=alert(1)>" in text
    assert "Heading <i>italic</i>" in text
    assert '<div onclick="steal()">raw block html</div>' in text
    assert "label <b>bold</b>" in text
    assert "&lt;script&gt;" in html


def test_attribute_values_cannot_be_broken_out_of() -> None:
    doc = parse_html(hostile_brief().html)
    (image,) = doc.iter("img")
    assert image.attrs["alt"] == 'alt "quoted" <x> onload=y'
    assert image.attrs["src"] == "https://example.org/i.png?a=1&b=%222%22"
    assert set(image.attrs) == {"src", "alt", "style"}
    (title,) = doc.iter("title")
    assert title.text == f"Title {EVIL}"


def test_text_part_keeps_the_words_and_subject_is_plain() -> None:
    rendered = hostile_brief()
    assert rendered.subject == f"Title {EVIL}"
    assert f"Lead {EVIL}" in squash(rendered.text)
    assert "label <b>bold</b> [1]" in squash(rendered.text)


def test_destination_urls_are_kept_exactly() -> None:
    rendered = hostile_brief()
    sources = [link for link in rendered.links if link.kind == "source"]
    assert sources[0].url == "https://example.org/a?b=1&c=2"
