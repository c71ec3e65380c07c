"""Stored briefs: the file's exact text, its hash, and who approved that text.

Approval belongs to a content hash: importing a changed file puts the brief back to
`draft` (and forgets the approval), importing the same bytes again changes nothing.
What is sent is always re-parsed from the stored text (`parsed`), never from the
file on disk, so what was approved is what goes out.

Topics are shared with subscribers, so their rows are created through
`briefmail.db.topics` (the one place topic rows are made, below both briefs and the
audience in the flow).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.briefs import model
from briefmail.briefs.parse import load_brief, parse_brief
from briefmail.db.models import Brief
from briefmail.db.topics import ensure_topic_pairs
from briefmail.errors import InvalidInputError, NotFoundError, StateError

Outcome = Literal["created", "updated", "unchanged"]
_MAX_APPROVER = 200


@dataclass(frozen=True, slots=True)
class StoreResult:
    brief: Brief
    outcome: Outcome  # "updated": the text changed, so the brief is a draft again


def import_brief(session: Session, path: str | Path) -> Brief:
    """Parse the file at `path` and store it (see `store_brief`)."""
    return store_brief(session, load_brief(path)).brief


def store_brief(session: Session, brief: model.Brief) -> StoreResult:
    """Insert or update the brief with `brief.slug`; changed text goes back to draft."""
    row = session.scalars(select(Brief).where(Brief.slug == brief.slug)).one_or_none()
    if row is not None and row.content_hash == brief.content_hash:
        if brief.path and row.source_path != brief.path:
            row.source_path = brief.path
        return StoreResult(row, "unchanged")
    topics = ensure_topic_pairs(session, [(t.slug, t.name) for t in brief.topics])
    now = clock.now()
    outcome: Outcome = "updated"
    if row is None:
        row = Brief(slug=brief.slug, created_at=now)
        session.add(row)
        outcome = "created"
    row.title = brief.title
    row.source = brief.text
    row.source_path = brief.path
    row.content_hash = brief.content_hash
    row.coverage_start = brief.coverage.start
    row.topics = topics
    row.status = "draft"
    row.approved_by = None
    row.approved_at = None
    row.updated_at = now
    session.flush()
    return StoreResult(row, outcome)


def get_brief(session: Session, slug: str) -> Brief:
    """The stored brief `slug`, or NotFoundError naming the ones that exist."""
    row = session.scalars(select(Brief).where(Brief.slug == slug.strip())).one_or_none()
    if row is None:
        known = session.scalars(select(Brief.slug).order_by(Brief.slug.desc()).limit(5)).all()
        hint = f" (stored briefs include: {', '.join(known)})" if known else " (none stored yet)"
        raise NotFoundError(f"no brief {slug!r}{hint}")
    return row


def approve_brief(session: Session, slug: str, by: str) -> Brief:
    """Approve the stored text of `slug`, a draft; StateError for one already approved
    (the first approval stands: who approved that text, and when, is not overwritten)."""
    approver = by.strip()
    if not approver:
        raise InvalidInputError("--by: say who approves the brief")
    if len(approver) > _MAX_APPROVER:
        raise InvalidInputError(f"--by: over {_MAX_APPROVER} characters")
    row = get_brief(session, slug)
    if row.status != "draft":
        when = clock.as_utc(row.approved_at).isoformat() if row.approved_at else "?"
        raise StateError(
            f"brief {row.slug!r} is not a draft: already {row.status} "
            f"(by {row.approved_by} at {when})"
        )
    row.status = "approved"
    row.approved_by = approver
    row.approved_at = clock.now()
    session.flush()
    return row


def list_briefs(session: Session) -> list[Brief]:
    """Every stored brief, newest coverage first."""
    query = select(Brief).order_by(Brief.coverage_start.desc(), Brief.slug)
    return list(session.scalars(query))


def parsed(row: Brief) -> model.Brief:
    """The typed brief from the stored text (what was approved), parsed once per text."""
    return _parse_cached(row.source, row.source_path or f"<brief {row.slug}>")


@lru_cache(maxsize=32)
def _parse_cached(text: str, path: str) -> model.Brief:
    return parse_brief(text, path)


def topic_slugs(row: Brief) -> list[str]:
    """The brief's topic slugs in the order the brief lists them."""
    return [topic.slug for topic in parsed(row).topics]
