"""The Markdown the brief format allows, in both the HTML and the text part."""

from __future__ import annotations

import pytest

from briefmail.briefs.model import Brief
from briefmail.briefs.parse import parse_brief
from briefmail.render.email import render_email
from briefmail.render.mjml import MjmlError, to_html
from briefmail.render.model import RenderedEmail
from tests.briefs.variants import edited
from tests.render.conftest import PUBLIC
from tests.render.html_doc import parse_html, squash

BODY = """\
## Formats

A paragraph with *emphasis*, **strong** words, `code` and a
[plain link](https://example.org/page?x=1&y=2) plus a second
[citation](source:2) of source two.

1. first step
2. second step that is long enough to need wrapping in the plain text part of the email ok
3. third

Then:

7. starts at seven

- bullet
  - nested bullet
- another

### A smaller heading

> quoted words

Line one\\
line two
"""


def render_body(body: str) -> tuple[Brief, RenderedEmail]:
    start = "Clinician-educators are asking"
    text = edited("---\n\n" + start, "---\n\n" + body + "\n" + start)
    brief = parse_brief(text, "b.md")
    return brief, render_email(brief, postal_address="Address", public_url=PUBLIC)


def test_markdown_in_html() -> None:
    _, rendered = render_body(BODY)
    doc = parse_html(rendered.html)
    assert [squash(e.text) for e in doc.iter("em")] == ["emphasis"]
    assert [squash(e.text) for e in doc.iter("strong")] == ["strong"]
    assert [squash(e.text) for e in doc.iter("code")] == ["code"]
    (ordered, seven) = doc.iter("ol")
    assert squash(ordered.iter("li")[0].text) == "first step"
    assert seven.attrs["start"] == "7"
    assert any(squash(li.text) == "nested bullet" for li in doc.iter("li"))
    assert squash(doc.iter("h3")[0].text) == "A smaller heading"
    assert [squash(q.text) for q in doc.iter("blockquote")] == ["quoted words"]
    assert doc.iter("br")
    for element in doc.iter("p") + doc.iter("ul") + doc.iter("li"):
        assert element.attrs.get("style"), f"<{element.tag}> without inline style"


def test_body_links_are_tracked_in_reading_order() -> None:
    brief, rendered = render_body(BODY)
    body_links = [link for link in rendered.links if link.kind == "citation"]
    assert [(link.label, link.url, link.source_number) for link in body_links[:2]] == [
        ("plain link", "https://example.org/page?x=1&y=2", None),
        ("citation", brief.sources[1].url, 2),
    ]
    doc = parse_html(rendered.html)
    (plain,) = [a for a in doc.iter("a") if squash(a.text) == "plain link"]
    assert plain.attrs["href"] == f"%%bm:l{body_links[0].link_id}%%"


def test_markdown_in_text() -> None:
    _, rendered = render_body(BODY)
    text = rendered.text
    lines = text.split("\n")
    # The "View in browser" URL stands alone on its line, however long.
    assert max(len(line) for line in lines if not line.startswith("https://")) <= 78
    assert "1. first step" in lines
    assert "2. second step that is long enough to need wrapping in the plain text part of" in lines
    assert "   the email ok" in lines
    assert "7. starts at seven" in lines
    assert "  - nested bullet" in lines
    assert "> quoted words" in lines
    assert "Line one" in lines
    assert "line two" in lines
    flat = squash(text)
    assert "plain link (%%bm:l1%%)" in flat
    assert "citation [2] of source two" in flat
    assert "emphasis" in flat
    assert "*" not in flat


def test_a_brief_with_no_body_and_no_cta_still_renders() -> None:
    text = edited(
        text=None,
        old=text_after_front_matter(),
        new="",
    )
    start = text.index("cta:")
    end = text.index("---", start)
    brief = parse_brief(text[:start] + text[end:], "b.md")
    rendered = render_email(brief, postal_address="Address", public_url=PUBLIC)
    assert brief.sections == ()
    assert [link.kind for link in rendered.links] == ["honeypot", "source", "source"]
    # With no call to action the honeypot leads to the first source.
    assert rendered.links[0].url == brief.sources[0].url
    assert "Sources" in rendered.text


def text_after_front_matter() -> str:
    from tests.briefs.variants import example_text

    text = example_text()
    return text[text.index("---", 4) + 4 :]


def test_mjml_errors_are_not_silent() -> None:
    with pytest.raises(MjmlError, match="unconverted MJML tag"):
        to_html(
            "<mjml><mj-body><mj-section><mj-column><mj-textt>x</mj-textt>"
            "</mj-column></mj-section></mj-body></mjml>"
        )
    with pytest.raises(MjmlError, match="refused"):
        to_html("<mjml><mj-body><mj-section></mj-body>")


def test_tables_without_role_get_one() -> None:
    html = to_html(
        "<mjml><mj-body><mj-section><mj-column><mj-text><table><tr><td>x</td></tr></table>"
        "</mj-text></mj-column></mj-section></mj-body></mjml>"
    )
    tables = parse_html(html).iter("table")
    assert len(tables) > 1
    assert all(t.attrs.get("role") == "presentation" for t in tables)
