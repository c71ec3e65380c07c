"""Slugs: the ids of topics and briefs, derived from their display names.

A topic's id is its slug, so the same rule must be used wherever a name becomes an
id (brief files, CSV imports, the preferences page); this is that one rule.
"""

from __future__ import annotations

import re
import unicodedata

MAX_SLUG = 80
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def slugify(text: str) -> str:
    """ "Learning design" -> "learning-design"; accents folded, other marks dropped."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NOT_ALNUM.sub("-", folded.lower()).strip("-")


def truncate_slug(slug: str, limit: int = MAX_SLUG) -> str:
    """Cut at a hyphen so a long slug does not end mid-word."""
    if len(slug) <= limit:
        return slug
    cut = slug[: limit + 1]
    head, sep, _ = cut.rpartition("-")
    return (head if sep and head else slug[:limit]).rstrip("-")


def is_slug(text: str) -> bool:
    return len(text) <= MAX_SLUG and SLUG_PATTERN.fullmatch(text) is not None
