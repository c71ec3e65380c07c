"""Typed reads from YAML nodes that record a located problem instead of raising.

Every read returns None when the value is unusable and adds a `Problem` naming the
node's line, so the parser reports every mistake in a file at once.
"""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Sequence
from datetime import date
from urllib.parse import urlsplit

import yaml

from briefmail.briefs.errors import Problem
from briefmail.briefs.frontmatter import RawChar, SplitFile
from briefmail.characters import FORBIDDEN, describe

# Same string as `briefmail.render.personalise.PREFIX` (a test keeps them equal); spelled
# out here because briefs sits upstream of render and must not import it.
PLACEHOLDER_PREFIX = "%%bm:"

NULL_TAG = "tag:yaml.org,2002:null"
URL_SCHEMES = ("http", "https")

Entries = dict[str, tuple[yaml.Node, yaml.Node]]


def check_url(url: str) -> str | None:
    """Why `url` cannot be a link in an email, or None when it is a plain http(s) URL."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme.lower() not in URL_SCHEMES:
        shown = f"'{url[: len(parts.scheme)]}:'" if parts.scheme else "no scheme"
        return f"must be an http or https URL, not {shown}"
    if not parts.hostname:
        return "must name a host (https://host/...)"
    return None


def check_text(text: str) -> str | None:
    if PLACEHOLDER_PREFIX in text:
        return f"must not contain '{PLACEHOLDER_PREFIX}' (reserved for per-recipient values)"
    return None


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return "a value"


class Reader:
    def __init__(self, path: str, parts: SplitFile) -> None:
        self.path = path
        self.first_line = parts.front_first_line
        self.problems: list[Problem] = []
        # Lines are counted from the text itself: PyYAML also breaks lines at U+2028/9.
        self._line_starts = [0] + [i + 1 for i, c in enumerate(parts.yaml_text) if c == "\n"]
        self._unclaimed = list(parts.raw)

    def line(self, node: yaml.Node) -> int:
        return bisect.bisect_right(self._line_starts, node.start_mark.index) - 1 + self.first_line

    def problem(self, node: yaml.Node | int, field: str, message: str) -> None:
        line = node if isinstance(node, int) else self.line(node)
        self.problems.append(Problem(self.path, line, field, message))

    def mapping(self, node: yaml.Node, field: str, known: Sequence[str]) -> Entries | None:
        """Keys -> (key node, value node); unknown and duplicate keys are problems."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, field or "front matter", f"must be a mapping, not {_kind(node)}")
            return None
        entries: Entries = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else ""
            name = f"{field}.{key}" if field else key
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                options = ", ".join(known)
                self.problem(key_node, name or field, f"unknown key{hint} (known: {options})")
            elif key in entries:
                first = self.line(entries[key][0])
                self.problem(key_node, name, f"is given twice (first on line {first})")
            else:
                entries[key] = (key_node, value_node)
        return entries

    def text(
        self, entries: Entries, key: str, field: str, parent: yaml.Node, *, required: bool = True
    ) -> str | None:
        name = f"{field}.{key}" if field else key
        if key not in entries:
            if required:
                self.problem(parent, name, "is required")
            return None
        return self.scalar(entries[key][1], name, required=required)

    def scalar(self, node: yaml.Node, name: str, *, required: bool = True) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, name, f"must be text, not {_kind(node)}")
            return None
        if not self._characters_allowed(node, name):
            return None
        # Front matter text is prose or a label, never layout: line breaks from YAML
        # block scalars become spaces (and a title can never inject a header line).
        value = "" if node.tag == NULL_TAG else " ".join(str(node.value).split())
        if not value:
            if required:
                self.problem(node, name, "is empty")
            return None
        why = check_text(value)
        if why:
            self.problem(node, name, why)
            return None
        return value

    def _characters_allowed(self, node: yaml.ScalarNode, name: str) -> bool:
        """False, with a problem for each, when the value holds a forbidden character:
        typed in the file (named by line and column) or made by a YAML escape."""
        start, end = node.start_mark.index, node.end_mark.index
        typed = [c for c in self._unclaimed if c.index is not None and start <= c.index < end]
        if typed:
            self._unclaimed = [c for c in self._unclaimed if c not in typed]
            self._report(typed, name)
        escaped = FORBIDDEN.search(str(node.value))
        if escaped:
            what = describe(escaped.group())
            self.problem(node, name, f"contains {what}, written as a YAML escape; remove it")
        return not (typed or escaped)

    def report_unread_characters(self) -> None:
        """Forbidden characters outside any value read (comments, unknown keys, fences)."""
        self._report(self._unclaimed, "front matter")
        self._unclaimed = []

    def _report(self, chars: list[RawChar], name: str) -> None:
        """One problem per line: an editor deletes them all once pointed at the first."""
        seen: set[int] = set()
        for char in chars:
            if char.line not in seen:
                seen.add(char.line)
                what = f"{describe(char.char)}, at column {char.column}"
                self.problem(char.line, name, f"contains {what}; remove it")

    def url(self, entries: Entries, key: str, field: str, parent: yaml.Node) -> str | None:
        value = self.text(entries, key, field, parent)
        if value is None:
            return None
        why = check_url(value)
        if why:
            self.problem(entries[key][1], f"{field}.{key}" if field else key, why)
            return None
        return value

    def date(self, entries: Entries, key: str, field: str, parent: yaml.Node) -> date | None:
        value = self.text(entries, key, field, parent)
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.problem(
                entries[key][1],
                f"{field}.{key}",
                f"must be an ISO date (YYYY-MM-DD), not {value!r}",
            )
            return None

    def sequence(
        self, entries: Entries, key: str, parent: yaml.Node, *, required: bool = True
    ) -> list[yaml.Node] | None:
        """The items of a list that must hold at least one item."""
        if key not in entries:
            if required:
                self.problem(parent, key, "is required (a list of one or more)")
            return None
        node = entries[key][1]
        if isinstance(node, yaml.ScalarNode) and (node.tag == NULL_TAG or not node.value.strip()):
            self.problem(node, key, "is empty (a list of one or more)")
            return None
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, key, f"must be a list, not {_kind(node)}")
            return None
        if not node.value:
            self.problem(node, key, "is an empty list (give one or more)")
            return None
        return list(node.value)
