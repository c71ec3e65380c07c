"""Split a brief file into its YAML front matter and Markdown body, keeping lines.

The YAML is composed into nodes rather than loaded into plain values: nodes keep
their start line (so every problem can name FILE:LINE) and their source text (so
`title: no` stays the word "no" instead of YAML 1.1's boolean False).

Characters no value may hold (see `briefmail.characters`) are found in the raw text
first, with their line and column, and the YAML gets U+FFFD in their place: PyYAML
would stop at the first one with no field to name, and a raw NEL would even break a
line. The reader then names the field each one sits in (`SplitFile.raw`).
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from briefmail.briefs.errors import BriefValidationError
from briefmail.characters import FORBIDDEN

FENCE = "---"
REPLACEMENT = "\ufffd"


@dataclass(frozen=True, slots=True)
class RawChar:
    """A forbidden character as typed in the file."""

    index: int | None  # position in the YAML text; None on a fence line
    line: int  # file line, 1-based
    column: int  # 1-based
    char: str


@dataclass(frozen=True, slots=True)
class SplitFile:
    front: yaml.Node
    front_first_line: int  # file line of the first YAML line
    yaml_text: str  # as composed (forbidden characters replaced)
    raw: tuple[RawChar, ...]  # forbidden characters in the fences and the YAML
    body: str
    body_first_line: int  # file line of the first body line


def decode(data: bytes, path: str) -> str:
    """UTF-8 text with a BOM dropped; refuses empty files."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise BriefValidationError.single(
            path,
            line,
            "file",
            f"is not UTF-8 (byte 0x{data[exc.start]:02x} at column {column}); save it as UTF-8",
        ) from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise BriefValidationError.single(path, 1, "file", "is empty")
    return text


def split(text: str, path: str) -> SplitFile:
    if not text.strip():
        raise BriefValidationError.single(path, 1, "file", "is empty")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[0].rstrip() != FENCE:
        raise BriefValidationError.single(
            path, 1, "front matter", f"is missing: the file must start with a '{FENCE}' line"
        )
    closing = next((i for i in range(1, len(lines)) if lines[i].rstrip() in (FENCE, "...")), None)
    if closing is None:
        raise BriefValidationError.single(path, 1, "front matter", f"has no closing '{FENCE}' line")
    raw = _forbidden(lines, closing)
    yaml_text = FORBIDDEN.sub(REPLACEMENT, "\n".join(lines[1:closing]))
    try:
        node = yaml.compose(yaml_text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        # The construct that was left open (context) is where the editor should look;
        # where YAML noticed (problem) is added when it is another line.
        mark = exc.context_mark or exc.problem_mark
        line = mark.line + 2 if mark is not None else 2
        what = ": ".join(part for part in (exc.context, exc.problem) if part)
        if exc.problem_mark is not None and exc.problem_mark.line + 2 != line:
            what += f" (line {exc.problem_mark.line + 2})"
        raise BriefValidationError.single(
            path, line, "front matter", f"is not valid YAML: {what or 'syntax error'}"
        ) from None
    except yaml.YAMLError as exc:
        raise BriefValidationError.single(
            path, 2, "front matter", f"is not valid YAML: {exc}"
        ) from None
    if node is None:
        raise BriefValidationError.single(path, 1, "front matter", "is empty")
    return SplitFile(
        front=node,
        front_first_line=2,
        yaml_text=yaml_text,
        raw=raw,
        body="\n".join(lines[closing + 1 :]),
        body_first_line=closing + 2,
    )


def _forbidden(lines: list[str], closing: int) -> tuple[RawChar, ...]:
    """Forbidden characters from the opening fence to the closing one."""
    found: list[RawChar] = []
    offset = 0  # index in the YAML text of the start of line i (lines 1..closing-1)
    for i in range(closing + 1):
        inside = 0 < i < closing
        for match in FORBIDDEN.finditer(lines[i]):
            index = offset + match.start() if inside else None
            found.append(RawChar(index, i + 1, match.start() + 1, match.group()))
        if inside:
            offset += len(lines[i]) + 1
    return tuple(found)
