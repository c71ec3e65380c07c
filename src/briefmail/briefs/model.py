"""The typed brief, as the parser hands it to rendering and storage.

The body is kept as Markdown source split into sections; rendering turns it into
markup (HTML for email, wrapped text for the plain part) from the same source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class TopicRef:
    """A topic as a brief names it: `slug` is its id, `name` its display name."""

    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class Coverage:
    start: date
    end: date


@dataclass(frozen=True, slots=True)
class Source:
    number: int  # 1-based, as cited by `[text](source:N)`
    kind: str
    title: str
    outlet: str
    summary: str
    url: str
    segment: str | None = None


@dataclass(frozen=True, slots=True)
class CallToAction:
    headline: str
    body: str
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Section:
    """A body section: `heading` is None for the lead before the first `## `."""

    heading: str | None
    markdown: str
    line: int  # 1-based line in the file where the section starts


@dataclass(frozen=True, slots=True)
class Brief:
    series: str
    title: str
    slug: str
    topics: tuple[TopicRef, ...]
    coverage: Coverage
    abstract: str
    preheader: str
    takeaways: tuple[str, ...]
    sources: tuple[Source, ...]
    sections: tuple[Section, ...]
    kicker: str | None = None
    cta: CallToAction | None = None
    path: str = ""
    # The file's text exactly as read, and its SHA-256 (for storage and change detection).
    text: str = field(default="", repr=False)
    content_hash: str = ""
