"""Brief -> `RenderedEmail`: rendered once per brief, personalised by substitution.

Link ids are handed out in reading order: 0 is the honeypot, then every link in
the body (citations included), then the source cards, then the call to action.
Every tracked href is a `%%bm:lN%%` placeholder; the send pipeline fills in a signed
click URL per recipient, and the preview (and the archive's web copy) fill in the
destination itself. The one href that is not a placeholder is "View in browser": it
is the brief's archive page, the same for every recipient (`webcopy.archive_url`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from markupsafe import Markup

from briefmail.briefs.body import citation_number
from briefmail.briefs.model import Brief
from briefmail.language import language_tag_problem
from briefmail.render import markup, style
from briefmail.render import personalise as p
from briefmail.render.dates import coverage_label
from briefmail.render.mjml import to_html
from briefmail.render.model import EmailLink, LinkKind, RenderedEmail
from briefmail.render.templates import MAIN_TEMPLATE, environment
from briefmail.render.text import TextSection, plain_text
from briefmail.render.webcopy import archive_url

HONEYPOT_LINK_ID = 0
# Invisible characters after the preheader keep inboxes from filling the preview
# line with the start of the body.
_PREHEADER_PAD = Markup("&#8204;&#160;" * 60)  # noqa: S704 (a constant)

SectionRole = Literal["lead", "body", "reconsider", "changed"]


def section_role(heading: str | None) -> SectionRole:
    """The published brief styles its closing sections apart from the argument."""
    if heading is None:
        return "lead"
    lowered = heading.lower()
    if lowered.startswith("what") and "reconsider" in lowered:
        return "reconsider"
    if lowered.startswith("what changed"):
        return "changed"
    return "body"


class _Links:
    def __init__(self) -> None:
        self.items: list[EmailLink] = []

    def add(self, url: str, kind: LinkKind, label: str, source_number: int | None = None) -> int:
        link_id = len(self.items)
        self.items.append(EmailLink(link_id, url, kind, label, source_number))
        return link_id


@dataclass(frozen=True, slots=True)
class PreparedEmail:
    """Everything but the MJML step: the template context, the text part, the links."""

    subject: str
    preheader: str
    context: dict[str, Any]
    text: str
    links: tuple[EmailLink, ...]
    lang: str


def render_email(
    brief: Brief, *, lang: str = "en", postal_address: str, public_url: str
) -> RenderedEmail:
    prepared = prepare_email(brief, lang=lang, postal_address=postal_address, public_url=public_url)
    return RenderedEmail(
        subject=prepared.subject,
        preheader=prepared.preheader,
        html=to_html(mjml_source(prepared)),
        text=prepared.text,
        links=prepared.links,
        lang=prepared.lang,
    )


def mjml_source(prepared: PreparedEmail) -> str:
    """The Jinja step: the brief's MJML document."""
    return environment().get_template(MAIN_TEMPLATE).render(**prepared.context)


def prepare_email(
    brief: Brief,
    *,
    lang: str,
    postal_address: str,
    public_url: str,
    inline_styles: bool = True,
) -> PreparedEmail:
    """`inline_styles=False` is the archive's web copy: body markup styled by its
    stylesheet instead (see `markup`)."""
    why = language_tag_problem(lang)
    if why:
        raise ValueError(f"lang: {why}")
    links = _Links()
    # The honeypot leads somewhere ordinary, so a scanner that follows it sees nothing odd.
    decoy = brief.cta.url if brief.cta is not None else brief.sources[0].url
    links.add(decoy, "honeypot", "")

    parsed = [(section, markup.parse(section.markdown)) for section in brief.sections]
    # Every link in the body is a "citation": `source:N` ones carry N and lead to that
    # source; a plain http(s) link in the prose is a citation with no source number.
    for _, tree in parsed:
        for node in markup.links_in(tree):
            href = str(node.attrs.get("href", ""))
            number = citation_number(href)
            url = brief.sources[number - 1].url if number is not None else href
            markup.set_link_id(node, links.add(url, "citation", markup.plain(node), number))
    source_ids = [links.add(s.url, "source", s.title, s.number) for s in brief.sources]
    cta_id = links.add(brief.cta.url, "cta", brief.cta.label) if brief.cta is not None else None

    view_url = archive_url(public_url, brief.slug)
    headings = [
        markup.plain(markup.parse(s.heading)) if s.heading is not None else None for s, _ in parsed
    ]
    context: dict[str, Any] = {
        "lang": lang,
        "view_url": view_url,
        "subject": subject_of(brief),
        "preheader": brief.preheader,
        "preheader_pad": _PREHEADER_PAD,
        "font": style.FONT,
        "c": style.COLORS,
        "kicker": brief.kicker,
        "series": brief.series,
        "coverage": coverage_label(brief.coverage.start, brief.coverage.end),
        "topics": [topic.name for topic in brief.topics],
        "title": brief.title,
        "abstract": brief.abstract,
        "takeaways": brief.takeaways,
        "sections": [
            {
                "heading": heading,
                "role": section_role(section.heading),
                # built from escaped parts
                "html": Markup(markup.html(tree, inline_styles=inline_styles)),  # noqa: S704
            }
            for heading, (section, tree) in zip(headings, parsed, strict=True)
        ],
        "sources": [
            {
                "number": s.number,
                "label": f"{s.number:02d}",
                "kind": s.kind,
                "title": s.title,
                "outlet": s.outlet,
                "segment": s.segment,
                "summary": s.summary,
                "href": markup.href(link_id),
            }
            for s, link_id in zip(brief.sources, source_ids, strict=True)
        ],
        "cta": None
        if brief.cta is None or cta_id is None
        else {
            "headline": brief.cta.headline,
            "body": brief.cta.body,
            "label": brief.cta.label,
            "href": markup.href(cta_id),
        },
        "reason_topics": p.placeholder(p.TOPICS_HTML),
        "preferences_href": p.placeholder(p.PREFERENCES_URL),
        "unsubscribe_href": p.placeholder(p.UNSUBSCRIBE_URL),
        "postal_address": postal_address,
        "honeypot_href": markup.href(HONEYPOT_LINK_ID),
    }
    text = plain_text(
        brief,
        [TextSection(heading, tree) for heading, (_, tree) in zip(headings, parsed, strict=True)],
        source_link_ids=source_ids,
        cta_link_id=cta_id,
        postal_address=postal_address,
        view_url=view_url,
    )
    return PreparedEmail(
        subject=subject_of(brief),
        preheader=brief.preheader,
        context=context,
        text=text,
        links=tuple(links.items),
        lang=lang,
    )


def subject_of(brief: Brief) -> str:
    """The subject line is the brief's title: it is what the reader decides on."""
    return brief.title
