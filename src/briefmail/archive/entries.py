"""Published briefs as the archive lists them: parsed, dated, newest first.

A stored text that no longer parses (validation grew stricter since it was sent) is
left out and logged: one bad brief must not take the archive down with it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from briefmail.archive.published import PublishedBrief
from briefmail.briefs.errors import BriefValidationError
from briefmail.briefs.model import Brief
from briefmail.briefs.parse import parse_brief
from briefmail.render.dates import coverage_label

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Entry:
    brief: Brief
    published: datetime  # first went out
    updated: datetime  # the text shown went out

    @property
    def slug(self) -> str:
        return self.brief.slug

    @property
    def coverage(self) -> str:
        return coverage_label(self.brief.coverage.start, self.brief.coverage.end)

    @property
    def topic_slugs(self) -> tuple[str, ...]:
        return tuple(topic.slug for topic in self.brief.topics)


def entries(published: Iterable[PublishedBrief], known: Iterable[Entry] = ()) -> list[Entry]:
    """Newest first: by when each brief first went out, then by slug. A text parsed
    for an earlier reading (`known`) is not parsed again."""
    parsed = {entry.brief.text: entry.brief for entry in known}
    found = []
    for item in published:
        try:
            brief = parsed.get(item.source) or parse_brief(item.source, f"<sent {item.slug}>")
        except BriefValidationError as exc:
            log.warning(
                "archive: brief %s left out, its sent text no longer parses: %s", item.slug, exc
            )
            continue
        found.append(Entry(brief, item.first_out, item.last_out))
    found.sort(key=lambda e: e.slug)
    found.sort(key=lambda e: e.published, reverse=True)
    return found
