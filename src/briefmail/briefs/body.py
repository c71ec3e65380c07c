"""The Markdown body: one parser configuration, section splitting and link checks.

Parsing and rendering share `markdown()` so a brief that validates is exactly the
brief that renders. Raw HTML is off: `<script>` in a brief is text, never markup.
Link validation is ours, not markdown-it's: its default silently turns a
`javascript:` link into plain text, which would hide the editor's mistake.
Forbidden characters are looked for twice: as typed (by line and column), and in what
markdown-it makes of character references, since `&#12;` decodes to a form feed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

from briefmail.briefs.errors import Problem
from briefmail.briefs.fields import check_text, check_url
from briefmail.briefs.frontmatter import REPLACEMENT
from briefmail.briefs.model import Section
from briefmail.characters import FORBIDDEN, describe

CITATION = re.compile(r"source:(\d+)")


class _Markdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        return True


@lru_cache(maxsize=1)
def markdown() -> MarkdownIt:
    return _Markdown("commonmark", {"html": False, "typographer": False})


def citation_number(href: str) -> int | None:
    """N for a `source:N` citation href, else None."""
    match = CITATION.fullmatch(href)
    return int(match.group(1)) if match else None


def walk_inline(tokens: list[Token]) -> Iterator[tuple[Token, Token]]:
    """(block inline token, child) for every inline child in document order."""
    for token in tokens:
        if token.type == "inline" and token.children:
            for child in token.children:
                yield token, child


def parse_sections(
    body: str, *, path: str, first_line: int, source_count: int | None, problems: list[Problem]
) -> tuple[Section, ...]:
    lines = body.split("\n")
    typed = _check_typed_characters(lines, path, first_line, problems)
    tokens = markdown().parse(FORBIDDEN.sub(REPLACEMENT, body) if typed else body)
    _check_decoded_characters(tokens, lines, path, first_line, problems)
    _check_links(tokens, lines, path, first_line, source_count, problems)
    for index, text in enumerate(lines):
        why = check_text(text)
        if why:
            problems.append(Problem(path, first_line + index, "body", why))
            break

    starts: list[tuple[int, int, str | None]] = []  # (heading line, content line, heading)
    for i, token in enumerate(tokens):
        if token.type != "heading_open" or token.level != 0 or token.map is None:
            continue
        if token.tag == "h1":
            problems.append(
                Problem(
                    path,
                    first_line + token.map[0],
                    "body",
                    "use '## ' for section headings (the title comes from the front matter)",
                )
            )
        elif token.tag == "h2":
            starts.append((token.map[0], token.map[1], tokens[i + 1].content.strip()))

    sections: list[Section] = []
    lead_end = starts[0][0] if starts else len(lines)
    lead = _section(None, lines, 0, lead_end, first_line)
    if lead is not None:
        sections.append(lead)
    for n, (heading_line, content_line, heading) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        if not heading:
            problems.append(Problem(path, first_line + heading_line, "body", "heading is empty"))
            continue
        text = "\n".join(lines[content_line:end]).strip("\n")
        sections.append(Section(heading=heading, markdown=text, line=first_line + heading_line))
    return tuple(sections)


def _section(
    heading: str | None, lines: list[str], start: int, end: int, first_line: int
) -> Section | None:
    chunk = lines[start:end]
    first = next((i for i, text in enumerate(chunk) if text.strip()), None)
    if first is None:
        return None
    text = "\n".join(chunk[first:]).strip("\n")
    return Section(heading=heading, markdown=text, line=first_line + start + first)


def _check_typed_characters(
    lines: list[str], path: str, first_line: int, problems: list[Problem]
) -> bool:
    """One problem per line holding a forbidden character; True if there was any."""
    found = False
    for index, text in enumerate(lines):
        match = FORBIDDEN.search(text)
        if match:
            found = True
            what = f"{describe(match.group())}, at column {match.start() + 1}"
            problems.append(
                Problem(path, first_line + index, "body", f"contains {what}; remove it")
            )
    return found


def _check_decoded_characters(
    tokens: list[Token], lines: list[str], path: str, first_line: int, problems: list[Problem]
) -> None:
    """Forbidden characters that only exist once character references are decoded."""
    for token in tokens:
        texts = [token.info] if token.type == "fence" else []
        for child in token.children or ():
            texts.append(child.content)
            texts.extend(str(value) for value in child.attrs.values())
        match = next(filter(None, (FORBIDDEN.search(text) for text in texts)), None)
        if match is None:
            continue
        start, end = token.map or (0, 1)
        line = next((i for i in range(start, min(end, len(lines))) if "&" in lines[i]), start)
        what = describe(match.group())
        problems.append(
            Problem(
                path,
                first_line + line,
                "body",
                f"has a character reference that makes {what}; remove it",
            )
        )


def _check_links(
    tokens: list[Token],
    lines: list[str],
    path: str,
    first_line: int,
    source_count: int | None,
    problems: list[Problem],
) -> None:
    for block, child in walk_inline(tokens):
        if child.type == "link_open":
            href = str(child.attrGet("href") or "")
            what = "link"
        elif child.type == "image":
            href = str(child.attrGet("src") or "")
            what = "image"
        else:
            continue
        line = _line_of(href, block, lines, first_line)
        if href.startswith("source:"):
            number = citation_number(href) if what == "link" else None
            if number is None:
                message = f"citation ({href}) must be source:N, N a source number"
            elif source_count is None:
                continue
            elif not 1 <= number <= source_count:
                have = f"{source_count} source" + ("" if source_count == 1 else "s")
                message = f"citation ({href}) names source {number}, but the brief has {have}"
            else:
                continue
            problems.append(Problem(path, line, "body", message))
            continue
        why = check_url(href)
        if why:
            problems.append(Problem(path, line, "body", f"{what} ({href}) {why}"))


def _line_of(href: str, block: Token, lines: list[str], first_line: int) -> int:
    """The line of the block that holds `href`, or the block's first line."""
    if block.map is None:
        return first_line
    start, end = block.map
    for index in range(start, min(end, len(lines))):
        if href and href in lines[index]:
            return first_line + index
    return first_line + start
