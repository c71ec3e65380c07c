"""Briefs as JSON: one model per shape, used by `briefmail brief list --json`, the API
(and so its OpenAPI document) and the console alike."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from briefmail import clock
from briefmail.briefs.store import parsed
from briefmail.db.models import Brief


class CoverageOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: date
    end: date


class BriefOut(BaseModel):
    """A stored brief; `topics` are slugs in the brief's order."""

    model_config = ConfigDict(frozen=True)

    slug: str
    title: str
    status: Literal["draft", "approved"]
    coverage: CoverageOut
    topics: list[str]
    approved_by: str | None
    approved_at: datetime | None
    content_hash: str

    @classmethod
    def of(cls, row: Brief) -> BriefOut:
        brief = parsed(row)
        return cls(
            slug=row.slug,
            title=row.title,
            status=row.status,
            coverage=CoverageOut(start=brief.coverage.start, end=brief.coverage.end),
            topics=[topic.slug for topic in brief.topics],
            approved_by=row.approved_by,
            approved_at=clock.as_utc(row.approved_at) if row.approved_at else None,
            content_hash=row.content_hash,
        )


class BriefList(BaseModel):
    """Every stored brief, newest coverage first."""

    briefs: list[BriefOut]


class WarningOut(BaseModel):
    """Worth a second look, not an error: the brief still renders (`briefmail preview`)."""

    code: str
    message: str


class BriefStored(BaseModel):
    """The outcome of storing a brief file: `updated` means changed, so a draft again."""

    slug: str
    title: str
    status: Literal["draft", "approved"]
    outcome: Literal["created", "updated", "unchanged"]
    warnings: list[WarningOut]
