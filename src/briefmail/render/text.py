"""The plain-text part, written from the brief itself rather than converted from HTML.

Converted HTML reads like a layout with the tables taken out; written text reads like
a letter. Lines wrap at 78 columns; URLs (placeholders until a recipient is known)
stand on their own so they are never broken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markdown_it.tree import SyntaxTreeNode

from briefmail.briefs.model import Brief
from briefmail.render import markup
from briefmail.render import personalise as p
from briefmail.render.dates import coverage_label

WIDTH = markup.TEXT_WIDTH


@dataclass(frozen=True, slots=True)
class TextSection:
    heading: str | None
    tree: SyntaxTreeNode


def _underlined(title: str, mark: str) -> str:
    wrapped = markup.wrap(title, WIDTH)
    longest = max(len(line) for line in wrapped.split("\n"))
    return f"{wrapped}\n{mark * longest}"


def plain_text(
    brief: Brief,
    sections: Sequence[TextSection],
    *,
    source_link_ids: Sequence[int],
    cta_link_id: int | None,
    postal_address: str,
    view_url: str,
) -> str:
    masthead = f"{brief.kicker} · {brief.series}" if brief.kicker else brief.series
    topics = ", ".join(topic.name for topic in brief.topics)
    blocks = [
        # A URL stands on a line of its own (never wrapped, however long).
        f"View in browser:\n{view_url}",
        "\n".join(
            [
                markup.wrap(masthead, WIDTH),
                coverage_label(brief.coverage.start, brief.coverage.end),
                markup.wrap(f"Topics: {topics}", WIDTH, "", "  "),
            ]
        ),
        _underlined(brief.title, "="),
        markup.wrap(brief.abstract, WIDTH),
        _underlined("Key takeaways", "-")
        + "\n"
        + "\n".join(markup.wrap(item, WIDTH, "- ", "  ") for item in brief.takeaways),
    ]
    for section in sections:
        body = markup.text(section.tree, WIDTH)
        if section.heading is not None:
            body = _underlined(section.heading, "-") + ("\n\n" + body if body else "")
        if body:
            blocks.append(body)

    cards = []
    for source, link_id in zip(brief.sources, source_link_ids, strict=True):
        where = source.outlet + (f" · cited segment {source.segment}" if source.segment else "")
        cards.append(
            "\n".join(
                [
                    markup.wrap(
                        f"{source.kind}: {source.title}", WIDTH, f"[{source.number}] ", "    "
                    ),
                    markup.wrap(where, WIDTH, "    ", "    "),
                    markup.wrap(source.summary, WIDTH, "    ", "    "),
                    f"    Open source: {markup.href(link_id)}",
                ]
            )
        )
    blocks.append(_underlined("Sources", "-") + "\n\n" + "\n\n".join(cards))

    if brief.cta is not None and cta_link_id is not None:
        rule = "-" * WIDTH
        blocks.append(
            "\n".join(
                [
                    rule,
                    markup.wrap(brief.cta.headline, WIDTH),
                    "",
                    markup.wrap(brief.cta.body, WIDTH),
                    "",
                    f"{brief.cta.label}: {markup.href(cta_link_id)}",
                    rule,
                ]
            )
        )

    topics_value = p.placeholder(p.TOPICS)
    blocks.append(
        "\n".join(
            [
                markup.wrap(
                    f"You receive the {brief.series} because you follow {topics_value}.", WIDTH
                ),
                f"Manage preferences: {p.placeholder(p.PREFERENCES_URL)}",
                f"Unsubscribe: {p.placeholder(p.UNSUBSCRIBE_URL)}",
                "",
                markup.wrap(postal_address, WIDTH),
            ]
        )
    )
    return "\n\n".join(blocks) + "\n"
