"""Per-recipient values by cheap substitution, never by re-rendering.

The rendered email carries placeholders `%%bm:KEY%%`. The same placeholder strings are
the keys of SendGrid `substitutions`, so SendGrid fills them for the sendgrid backend
and `Template.fill` fills them locally for the outbox and SMTP backends and previews.
A template is split once; filling is one join over precomputed parts.

Values differ per part: the HTML part uses `*_html` keys whose values are already
HTML-escaped, the text part uses plain keys. URLs need no escaping (tokens are
URL-safe and our URLs carry no `&`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

PREFIX = "%%bm:"
SUFFIX = "%%"
_PATTERN = re.compile(r"%%bm:([a-z0-9_]+)%%")

UNSUBSCRIBE_URL = "unsubscribe_url"
PREFERENCES_URL = "preferences_url"
NAME = "name"
NAME_HTML = "name_html"
TOPICS = "topics"
TOPICS_HTML = "topics_html"


def placeholder(key: str) -> str:
    """The literal placeholder for `key`, e.g. `%%bm:unsubscribe_url%%`."""
    if not re.fullmatch(r"[a-z0-9_]+", key):
        raise ValueError(f"bad placeholder key {key!r}")
    return f"{PREFIX}{key}{SUFFIX}"


def link_key(link_id: int) -> str:
    """Key of the tracked href of link `link_id` (same value in HTML and text)."""
    return f"l{link_id}"


@dataclass(frozen=True, slots=True)
class Template:
    """A string split once at its placeholders: literal, key, literal, key, ..., literal."""

    literals: tuple[str, ...]
    keys: tuple[str, ...]

    @classmethod
    def compile(cls, source: str) -> Template:
        parts = _PATTERN.split(source)
        return cls(literals=tuple(parts[0::2]), keys=tuple(parts[1::2]))

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(self.keys)

    def fill(self, values: Mapping[str, str]) -> str:
        """Join with `values`; a missing key raises KeyError (never send a raw placeholder)."""
        out = [self.literals[0]]
        for key, literal in zip(self.keys, self.literals[1:], strict=True):
            out.append(values[key])
            out.append(literal)
        return "".join(out)
