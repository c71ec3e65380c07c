"""The audience as JSON: subscribers, topics, a brief's audience and CSV imports; one
model per shape, for `--json`, the API (and so its OpenAPI document) and the console."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from briefmail import clock
from briefmail.audience.csv_import import ImportResult
from briefmail.audience.segment import AudienceCount
from briefmail.audience.subscribers import SubscriberView
from briefmail.audience.topics import TopicListing

SubscriberStatus = Literal["pending", "active", "unsubscribed", "bounced", "complained"]


class AudienceOut(BaseModel):
    """Who a brief reaches: `total` counts each subscriber once; `by_topic` per topic of
    the (narrowed) brief; `all_topics` those with no topics (in total, in no topic)."""

    model_config = ConfigDict(frozen=True)

    total: int
    by_topic: dict[str, int]
    all_topics: int

    @classmethod
    def of(cls, count: AudienceCount) -> AudienceOut:
        return cls(total=count.total, by_topic=dict(count.by_topic), all_topics=count.all_topics)


class SubscriberOut(BaseModel):
    """A subscriber; `topics` are slugs, [] meaning every topic; `suppressed` is the
    reason when the address is on the suppression list."""

    model_config = ConfigDict(frozen=True)

    email: str
    name: str
    status: SubscriberStatus
    topics: list[str]
    suppressed: str | None
    timezone: str | None
    created_at: datetime

    @classmethod
    def of(cls, view: SubscriberView) -> SubscriberOut:
        return cls(
            email=view.email,
            name=view.name,
            status=view.status,
            topics=list(view.topics),
            suppressed=view.suppressed,
            timezone=view.timezone,
            created_at=clock.as_utc(view.created_at),
        )


class SubscriberPage(BaseModel):
    """Subscribers in a stable order; `next` is the cursor of the following page."""

    subscribers: list[SubscriberOut]
    next: str | None


class TopicOut(BaseModel):
    slug: str
    name: str
    subscribers: int  # active, not suppressed subscribers who chose the topic


class TopicsOut(BaseModel):
    """Every topic; `all_topics` counts subscribers with no topics once (they take every
    topic and are in no topic's figure)."""

    topics: list[TopicOut]
    all_topics: int

    @classmethod
    def of(cls, listing: TopicListing) -> TopicsOut:
        return cls(
            topics=[
                TopicOut(slug=t.slug, name=t.name, subscribers=t.subscribers)
                for t in listing.topics
            ],
            all_topics=listing.all_topics,
        )


class RowProblemOut(BaseModel):
    line: int
    field: str
    message: str


class ImportOut(BaseModel):
    """A CSV import: counts, and every skipped row with its line and why."""

    added: int
    updated: int
    unchanged: int
    problems: list[RowProblemOut]

    @classmethod
    def of(cls, result: ImportResult) -> ImportOut:
        return cls(
            added=result.added,
            updated=result.updated,
            unchanged=result.unchanged,
            problems=[
                RowProblemOut(line=p.line, field=p.field, message=p.message)
                for p in result.problems
            ],
        )
