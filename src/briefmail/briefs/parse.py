"""Brief files -> `Brief`, or a `BriefValidationError` listing every problem.

Nothing downstream re-checks a brief: rendering, storage and sending trust what
this module returns, so every rule from the brief format lives here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from briefmail.briefs import frontmatter
from briefmail.briefs.body import parse_sections
from briefmail.briefs.errors import BriefValidationError, Problem
from briefmail.briefs.fields import Entries, Reader
from briefmail.briefs.model import Brief, CallToAction, Coverage, Source, TopicRef
from briefmail.briefs.slugs import MAX_SLUG, is_slug, slugify, truncate_slug

TOP_KEYS = (
    "series",
    "kicker",
    "title",
    "slug",
    "topics",
    "coverage",
    "abstract",
    "preheader",
    "takeaways",
    "sources",
    "cta",
)
COVERAGE_KEYS = ("start", "end")
SOURCE_KEYS = ("kind", "title", "outlet", "segment", "summary", "url")
CTA_KEYS = ("headline", "body", "label", "url")
PREHEADER_MAX = 150
TOPIC_NAME_MAX = 200


def load_brief(path: str | Path) -> Brief:
    """Read and parse a brief file; every failure is a BriefValidationError."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise BriefValidationError.single(name, 1, "file", f"cannot be read: {reason}") from None
    return parse_bytes(data, name)


def parse_bytes(data: bytes, path: str) -> Brief:
    """Parse a brief file's bytes (an upload); `path` names it in every problem."""
    return parse_brief(frontmatter.decode(data, path), path)


def parse_brief(text: str, path: str) -> Brief:
    parts = frontmatter.split(text, path)
    reader = Reader(path, parts.front_first_line)
    top = parts.front
    entries = reader.mapping(top, "", TOP_KEYS)
    if entries is None:
        raise BriefValidationError(reader.problems)

    series = reader.text(entries, "series", "", top)
    kicker = reader.text(entries, "kicker", "", top, required=False)
    title = reader.text(entries, "title", "", top)
    slug = _slug(reader, entries, top)
    topics = _topics(reader, entries, top)
    coverage = _coverage(reader, entries, top)
    abstract = reader.text(entries, "abstract", "", top)
    preheader = reader.text(entries, "preheader", "", top, required=False)
    takeaways = _takeaways(reader, entries, top)
    sources = _sources(reader, entries, top)
    cta = _cta(reader, entries)

    body_problems: list[Problem] = []
    sections = parse_sections(
        parts.body,
        path=path,
        first_line=parts.body_first_line,
        # Citations are checked against the number of sources, even if one is broken.
        source_count=_count(entries, "sources"),
        problems=body_problems,
    )
    problems = reader.problems + body_problems
    if problems:
        raise BriefValidationError(sorted(problems, key=lambda p: p.line))
    if not (series and title and topics and coverage and abstract and takeaways and sources):
        raise AssertionError("a missing field was not reported as a problem")
    return Brief(
        series=series,
        kicker=kicker,
        title=title,
        slug=slug or default_slug(coverage, title),
        topics=topics,
        coverage=coverage,
        abstract=abstract,
        preheader=preheader or default_preheader(abstract),
        takeaways=takeaways,
        sources=sources,
        sections=sections,
        cta=cta,
        path=path,
        text=text,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def default_slug(coverage: Coverage, title: str) -> str:
    """`<coverage.start>-<slugified title>`, at most 80 characters, cut at a hyphen."""
    return truncate_slug(f"{coverage.start.isoformat()}-{slugify(title)}".rstrip("-"))


def default_preheader(abstract: str) -> str:
    """The abstract, or as much of it as fits an inbox preview, cut at a word."""
    text = " ".join(abstract.split())
    if len(text) <= PREHEADER_MAX:
        return text
    cut = text[: PREHEADER_MAX - 1].rsplit(" ", 1)[0].rstrip(" ,;:—-")
    return cut + "…"


def _slug(reader: Reader, entries: Entries, top: yaml.Node) -> str | None:
    value = reader.text(entries, "slug", "", top, required=False)
    if value is not None and not is_slug(value):
        reader.problem(
            entries["slug"][1],
            "slug",
            f"must be lowercase letters, digits and single hyphens, at most {MAX_SLUG} "
            f"characters (e.g. {slugify(value)[:MAX_SLUG] or '2024-01-08-my-brief'!r})",
        )
        return None
    return value


def _count(entries: Entries, key: str) -> int | None:
    node = entries[key][1] if key in entries else None
    return len(node.value) if isinstance(node, yaml.SequenceNode) else None


def _topics(reader: Reader, entries: Entries, top: yaml.Node) -> tuple[TopicRef, ...] | None:
    items = reader.sequence(entries, "topics", top)
    if items is None:
        return None
    topics: list[TopicRef] = []
    seen: dict[str, int] = {}
    for index, node in enumerate(items, start=1):
        field = f"topics[{index}]"
        name = reader.scalar(node, field)
        if name is None:
            continue
        slug = slugify(name)
        if not slug:
            reader.problem(node, field, f"{name!r} has no letters or digits to make an id from")
        elif len(slug) > MAX_SLUG or len(name) > TOPIC_NAME_MAX:
            reader.problem(node, field, f"is too long (at most {MAX_SLUG} characters)")
        elif slug in seen:
            reader.problem(node, field, f"repeats topics[{seen[slug]}] ({slug})")
        else:
            seen[slug] = index
            topics.append(TopicRef(slug=slug, name=name))
    return tuple(topics) if len(topics) == len(items) else None


def _coverage(reader: Reader, entries: Entries, top: yaml.Node) -> Coverage | None:
    if "coverage" not in entries:
        reader.problem(top, "coverage", "is required (start: and end: dates)")
        return None
    node = entries["coverage"][1]
    inner = reader.mapping(node, "coverage", COVERAGE_KEYS)
    if inner is None:
        return None
    start = reader.date(inner, "start", "coverage", node)
    end = reader.date(inner, "end", "coverage", node)
    if start is None or end is None:
        return None
    if end < start:
        reader.problem(
            inner["end"][1],
            "coverage.end",
            f"{end.isoformat()} is before start {start.isoformat()}",
        )
        return None
    return Coverage(start=start, end=end)


def _takeaways(reader: Reader, entries: Entries, top: yaml.Node) -> tuple[str, ...] | None:
    items = reader.sequence(entries, "takeaways", top)
    if items is None:
        return None
    values = [reader.scalar(node, f"takeaways[{i}]") for i, node in enumerate(items, start=1)]
    texts = [v for v in values if v is not None]
    return tuple(texts) if len(texts) == len(values) else None


def _sources(reader: Reader, entries: Entries, top: yaml.Node) -> tuple[Source, ...] | None:
    items = reader.sequence(entries, "sources", top)
    if items is None:
        return None
    sources: list[Source] = []
    for number, node in enumerate(items, start=1):
        field = f"sources[{number}]"
        inner = reader.mapping(node, field, SOURCE_KEYS)
        if inner is None:
            continue
        kind = reader.text(inner, "kind", field, node)
        title = reader.text(inner, "title", field, node)
        outlet = reader.text(inner, "outlet", field, node)
        segment = reader.text(inner, "segment", field, node, required=False)
        summary = reader.text(inner, "summary", field, node)
        url = reader.url(inner, "url", field, node)
        if kind and title and outlet and summary and url:
            sources.append(
                Source(
                    number=number,
                    kind=kind,
                    title=title,
                    outlet=outlet,
                    summary=summary,
                    url=url,
                    segment=segment,
                )
            )
    return tuple(sources) if len(sources) == len(items) else None


def _cta(reader: Reader, entries: Entries) -> CallToAction | None:
    if "cta" not in entries:
        return None
    node = entries["cta"][1]
    inner = reader.mapping(node, "cta", CTA_KEYS)
    if inner is None:
        return None
    headline = reader.text(inner, "headline", "cta", node)
    body = reader.text(inner, "body", "cta", node)
    label = reader.text(inner, "label", "cta", node)
    url = reader.url(inner, "url", "cta", node)
    if headline and body and label and url:
        return CallToAction(headline=headline, body=body, label=label, url=url)
    return None
