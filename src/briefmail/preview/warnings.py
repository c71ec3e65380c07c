"""Things worth an editor's second look that are not errors: the brief still renders.

Each check is a plain function over the brief, its rendering and the filled HTML so
the summary, the live page and tests all see the same list.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from html.parser import HTMLParser

from briefmail.briefs.model import Brief
from briefmail.render.model import EmailLink, RenderedEmail
from briefmail.sending.sendgrid_limits import RecipientFit

SUBJECT_MAX = 60
PREHEADER_MAX = 150
SECTION_WORDS_MAX = 400
GMAIL_CLIP_BYTES = 102 * 1024


@dataclass(frozen=True, slots=True)
class PreviewWarning:
    code: str
    message: str


def find_warnings(brief: Brief, rendered: RenderedEmail, html: str) -> list[PreviewWarning]:
    found: list[PreviewWarning] = []
    if len(rendered.subject) > SUBJECT_MAX:
        found.append(
            PreviewWarning(
                "long-subject",
                f"subject is {len(rendered.subject)} characters; phones show about "
                f"{SUBJECT_MAX} before cutting it off",
            )
        )
    if len(rendered.preheader) > PREHEADER_MAX:
        found.append(
            PreviewWarning(
                "long-preheader",
                f"preheader is {len(rendered.preheader)} characters; inboxes show about "
                f"{PREHEADER_MAX}",
            )
        )
    missing = images_without_alt(html)
    if missing:
        shown = ", ".join(missing[:3]) + (" …" if len(missing) > 3 else "")
        found.append(
            PreviewWarning("missing-alt", f"{len(missing)} image(s) have no alt text: {shown}")
        )
    found.extend(duplicate_links(rendered.links))
    for section in brief.sections:
        words = len(section.markdown.split())
        if words > SECTION_WORDS_MAX:
            name = f"section '{section.heading}'" if section.heading else "the opening section"
            found.append(
                PreviewWarning(
                    "long-section",
                    f"{name} (line {section.line}) has {words} words; over "
                    f"{SECTION_WORDS_MAX} reads long in an inbox: consider splitting it",
                )
            )
    size = len(html.encode("utf-8"))
    if size > GMAIL_CLIP_BYTES:
        found.append(
            PreviewWarning(
                "gmail-clip",
                f"HTML is {size / 1024:.1f} KB; Gmail clips messages over "
                f"{GMAIL_CLIP_BYTES // 1024} KB",
            )
        )
    return found


def sendgrid_limits(fit: RecipientFit) -> list[PreviewWarning]:
    """Too many tracked links for SendGrid: every batch of the send would be refused,
    and starting the send through SendGrid refuses the brief
    (`briefmail.sending.sendgrid_limits`)."""
    if fit.fits:
        return []
    message = f"{fit.problem()}: SendGrid would refuse every batch; {fit.remedy()}"
    return [PreviewWarning("sendgrid-limits", message)]


def _origin(link: EmailLink) -> str:
    # A citation and the card of the source it cites are one destination by design.
    if link.source_number is not None:
        return f"source {link.source_number}"
    return f"{link.kind} '{link.label}'"


def duplicate_links(links: tuple[EmailLink, ...]) -> list[PreviewWarning]:
    origins: dict[str, list[str]] = defaultdict(list)
    for link in links:
        if link.kind == "honeypot":
            continue
        origin = _origin(link)
        if origin not in origins[link.url]:
            origins[link.url].append(origin)
    return [
        PreviewWarning(
            "duplicate-link", f"{url} is linked from {len(where)} places: {', '.join(where)}"
        )
        for url, where in origins.items()
        if len(where) > 1
    ]


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.missing: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "img":
            return
        values = dict(attrs)
        if not (values.get("alt") or "").strip():
            self.missing.append(values.get("src") or "(no src)")


def images_without_alt(html: str) -> list[str]:
    """The src of every image with no (or only blank) alt text."""
    parser = _Images()
    parser.feed(html)
    parser.close()
    return parser.missing
