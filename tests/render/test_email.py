"""The rendered email: every part of the brief is there, every link is tracked."""

from __future__ import annotations

import re

import pytest

from briefmail.briefs.model import Brief
from briefmail.render import personalise as p
from briefmail.render.dates import coverage_label
from briefmail.render.email import render_email, section_role
from briefmail.render.model import RenderedEmail
from briefmail.render.reason import topics_phrase
from tests.render.conftest import POSTAL, PUBLIC
from tests.render.html_doc import parse_html, squash

PLACEHOLDER = re.compile(r"%%bm:([a-z0-9_]+)%%")
VIEW_URL = (
    "https://brief.example.org/archive/"
    "2024-01-08-clinician-educators-want-coaching-programs-not-more-lectures"
)


def link_ids(rendered: RenderedEmail, kind: str) -> list[int]:
    return [link.link_id for link in rendered.links if link.kind == kind]


def test_every_part_of_the_brief_is_in_the_html(seed: Brief, rendered: RenderedEmail) -> None:
    doc = parse_html(rendered.html)
    body = squash(doc.iter("body")[0].text)
    assert "Insights / Clinician Learning Brief" in body
    assert "Jan 8–14, 2024" in body
    for topic in seed.topics:
        assert topic.name in body
    h1 = doc.iter("h1")
    assert [squash(h.text) for h in h1] == [seed.title]
    assert squash(seed.abstract) in body
    for takeaway in seed.takeaways:
        assert squash(takeaway) in body
    headings = [squash(h.text) for h in doc.iter("h2")]
    assert headings == [
        "Key takeaways",
        "Faculty development is becoming a program design problem",
        "What CME Providers Should Reconsider",
        "What changed this week",
        "Sources",
        "Turn learner questions into outcomes data",
    ]
    assert "structured coaching program than another lecture series" in body
    reconsider_items = [squash(li.text) for li in doc.iter("li")]
    assert any(item.startswith("Audit faculty development products") for item in reconsider_items)
    assert "or just scheduling them." in body


def test_source_cards_and_their_buttons(seed: Brief, rendered: RenderedEmail) -> None:
    doc = parse_html(rendered.html)
    body = squash(doc.iter("body")[0].text)
    titles = [squash(h.text) for h in doc.iter("h3")]
    assert titles == [s.title for s in seed.sources]
    for source in seed.sources:
        assert f"{source.number:02d}" in body
        assert source.kind in body
        assert f"{source.outlet} · cited segment {source.segment}" in body
        assert squash(source.summary) in body
    buttons = [a for a in doc.iter("a") if squash(a.text) == "Open source"]
    assert len(buttons) == len(seed.sources)
    by_id = {link.link_id: link for link in rendered.links}
    for button, source in zip(buttons, seed.sources, strict=True):
        match = PLACEHOLDER.fullmatch(button.attrs["href"])
        assert match is not None
        link = by_id[int(match.group(1)[1:])]
        assert (link.kind, link.url, link.source_number) == ("source", source.url, source.number)
        assert link.label == source.title


def test_citations_link_to_their_sources(seed: Brief, rendered: RenderedEmail) -> None:
    doc = parse_html(rendered.html)
    citations = [link for link in rendered.links if link.kind == "citation"]
    assert [(c.label, c.source_number) for c in citations] == [
        ("Faculty Feed", 1),
        ("Teachning and Learning at KI", 2),
    ]
    for citation in citations:
        assert citation.url == seed.sources[citation.source_number - 1].url  # type: ignore[operator]
        anchors = [a for a in doc.iter("a") if a.attrs.get("href") == f"%%bm:l{citation.link_id}%%"]
        assert [squash(a.text) for a in anchors] == [citation.label]


def test_call_to_action(seed: Brief, rendered: RenderedEmail) -> None:
    assert seed.cta is not None
    doc = parse_html(rendered.html)
    (cta_id,) = link_ids(rendered, "cta")
    (button,) = [a for a in doc.iter("a") if a.attrs.get("href") == f"%%bm:l{cta_id}%%"]
    assert squash(button.text) == "Request a demo"
    assert squash(seed.cta.body) in squash(doc.text)
    assert rendered.links[cta_id].url == seed.cta.url


def test_every_href_is_a_placeholder_and_every_link_is_listed(rendered: RenderedEmail) -> None:
    doc = parse_html(rendered.html)
    hrefs = [a.attrs.get("href", "") for a in doc.iter("a")]
    assert hrefs, "no links found"
    assert hrefs[0] == VIEW_URL  # the one link that is the same for everyone
    hrefs = hrefs[1:]
    assert all(PLACEHOLDER.fullmatch(h) for h in hrefs), hrefs
    keys = {PLACEHOLDER.fullmatch(h).group(1) for h in hrefs}  # type: ignore[union-attr]
    listed = {p.link_key(link.link_id) for link in rendered.links}
    assert keys == listed | {p.UNSUBSCRIBE_URL, p.PREFERENCES_URL}
    assert [link.link_id for link in rendered.links] == list(range(len(rendered.links)))
    assert all(link.url.startswith("https://") for link in rendered.links)


def test_placeholders_are_exactly_what_the_sender_fills(rendered: RenderedEmail) -> None:
    html_keys = p.Template.compile(rendered.html).placeholders
    text_keys = p.Template.compile(rendered.text).placeholders
    links = {p.link_key(link.link_id) for link in rendered.links}
    assert html_keys == links | {p.UNSUBSCRIBE_URL, p.PREFERENCES_URL, p.TOPICS_HTML}
    assert text_keys == (links - {p.link_key(0)}) - {
        p.link_key(i) for i in link_ids(rendered, "citation")
    } | {p.UNSUBSCRIBE_URL, p.PREFERENCES_URL, p.TOPICS}


def test_honeypot_is_invisible_to_people_and_screen_readers(rendered: RenderedEmail) -> None:
    assert rendered.links[0].kind == "honeypot"
    assert rendered.links[0].source_number is None
    doc = parse_html(rendered.html)
    (trap,) = [a for a in doc.iter("a") if a.attrs.get("href") == "%%bm:l0%%"]
    assert trap.attrs["aria-hidden"] == "true"
    assert trap.attrs["tabindex"] == "-1"
    assert "display:none" in trap.attrs["style"].replace(" ", "")
    assert trap.text.strip() == ""
    assert "%%bm:l0%%" not in rendered.text


def test_footer_has_unsubscribe_preferences_reason_and_address(rendered: RenderedEmail) -> None:
    doc = parse_html(rendered.html)
    anchors = {squash(a.text): a.attrs["href"] for a in doc.iter("a") if a.text.strip()}
    assert anchors["Unsubscribe"] == "%%bm:unsubscribe_url%%"
    assert anchors["Manage preferences"] == "%%bm:preferences_url%%"
    text = squash(doc.text)
    assert "You receive the Clinician Learning Brief because you follow %%bm:topics_html%%." in text
    assert POSTAL in text


def test_email_client_essentials(seed: Brief, rendered: RenderedEmail) -> None:
    html = rendered.html
    assert "<mj-" not in html
    assert "</mj-" not in html
    assert len(html.encode("utf-8")) < 60 * 1024
    doc = parse_html(html)
    (root,) = doc.iter("html")
    assert root.attrs["lang"] == "en"
    metas = {m.attrs.get("name"): m.attrs.get("content") for m in doc.iter("meta")}
    assert metas["color-scheme"] == "light dark"
    assert metas["supported-color-schemes"] == "light dark"
    assert (metas["viewport"] or "").startswith("width=device-width")
    tables = doc.iter("table")
    assert tables
    assert all(t.attrs.get("role") == "presentation" for t in tables)
    assert "max-width:600px" in html
    assert "-apple-system" in html
    assert "fonts.googleapis.com" not in html
    (title,) = doc.iter("title")
    assert title.text == seed.title
    hidden = [
        d
        for d in doc.iter("div")
        if "display:none" in d.attrs.get("style", "") and seed.preheader in d.text
    ]
    assert len(hidden) == 1
    assert rendered.subject == seed.title
    assert rendered.preheader == seed.preheader


def test_view_in_browser_comes_first_and_is_the_same_for_everyone(
    rendered: RenderedEmail,
) -> None:
    doc = parse_html(rendered.html)
    (body,) = doc.iter("body")
    first = doc.iter("a")[0]
    assert squash(first.text) == "View in browser"
    assert first.attrs["href"] == VIEW_URL
    # Before the masthead, in reading order (the preheader is hidden).
    text = squash(body.text)
    assert text.index("View in browser") < text.index("Insights / Clinician Learning Brief")
    # Rendered once: not a per-recipient value, so every recipient's copy carries it as is.
    assert "view" not in "".join(p.Template.compile(rendered.html).placeholders)
    assert rendered.text.startswith(f"View in browser:\n{VIEW_URL}\n")


def test_plain_text_part(seed: Brief, rendered: RenderedEmail) -> None:
    text = rendered.text
    lines = text.split("\n")
    # Lines wrap at 78 columns; a URL stands alone on its line, whatever its length.
    assert max(len(line) for line in lines if not line.startswith("https://")) <= 78
    assert "<" not in text.replace("<script>", "")  # no markup leaked in
    flat = squash(text)
    for heading in (
        seed.title,
        "Key takeaways",
        "Faculty development is becoming a program design problem",
        "What CME Providers Should Reconsider",
        "What changed this week",
        "Sources",
    ):
        assert heading in lines, heading
    assert "Jan 8–14, 2024" in lines
    for takeaway in seed.takeaways:
        assert squash(takeaway) in flat
    assert "(Faculty Feed [1])" in flat
    source_ids = link_ids(rendered, "source")
    for source, link_id in zip(seed.sources, source_ids, strict=True):
        assert f"[{source.number}] {source.kind}: " in text
        assert f"    Open source: %%bm:l{link_id}%%" in lines
    (cta_id,) = link_ids(rendered, "cta")
    assert f"Request a demo: %%bm:l{cta_id}%%" in lines
    assert "Unsubscribe: %%bm:unsubscribe_url%%" in lines
    assert "Manage preferences: %%bm:preferences_url%%" in lines
    assert "because you follow %%bm:topics%%." in flat
    assert POSTAL in flat


def test_lang_is_set_and_checked(seed: Brief) -> None:
    german = render_email(seed, lang="de-CH", postal_address=POSTAL, public_url=PUBLIC)
    assert parse_html(german.html).iter("html")[0].attrs["lang"] == "de-CH"
    assert german.lang == "de-CH"
    with pytest.raises(ValueError, match="lang"):
        render_email(seed, lang='en" onload="x', postal_address=POSTAL, public_url=PUBLIC)


def test_rendering_is_deterministic(seed: Brief, rendered: RenderedEmail) -> None:
    again = render_email(seed, lang="en", postal_address=POSTAL, public_url=PUBLIC)
    assert again == rendered


@pytest.mark.parametrize(
    ("heading", "role"),
    [
        (None, "lead"),
        ("What CME Providers Should Reconsider", "reconsider"),
        ("What health systems should reconsider", "reconsider"),
        ("What changed this week", "changed"),
        ("Faculty development is becoming a program design problem", "body"),
        ("Reconsider nothing", "body"),
    ],
)
def test_section_roles(heading: str | None, role: str) -> None:
    assert section_role(heading) == role


def test_closing_sections_are_styled_as_panels(rendered: RenderedEmail) -> None:
    doc = parse_html(rendered.html)
    panels = [td for td in doc.iter("td") if "border-left:4px solid" in td.attrs.get("style", "")]
    headings = [squash(panel.iter("h2")[0].text) for panel in panels]
    assert headings == ["What CME Providers Should Reconsider", "What changed this week"]


@pytest.mark.parametrize(
    ("start", "end", "label"),
    [
        ("2024-01-08", "2024-01-14", "Jan 8–14, 2024"),
        ("2024-01-29", "2024-02-04", "Jan 29 – Feb 4, 2024"),
        ("2024-12-30", "2025-01-05", "Dec 30, 2024 – Jan 5, 2025"),
        ("2024-03-01", "2024-03-01", "Mar 1, 2024"),
    ],
)
def test_coverage_label(start: str, end: str, label: str) -> None:
    from datetime import date

    assert coverage_label(date.fromisoformat(start), date.fromisoformat(end)) == label


@pytest.mark.parametrize(
    ("names", "phrase"),
    [
        ([], "all topics"),
        (["Learning design"], "Learning design"),
        (["A", "B"], "A and B"),
        (["A", "B", "C"], "A, B and C"),
    ],
)
def test_topics_phrase(names: list[str], phrase: str) -> None:
    assert topics_phrase(names) == phrase
