"""The report as JSON (`briefmail report --json`, `GET /api/v1/reports/{slug}`, the
console): one model, so the CLI, the API and its OpenAPI document agree."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from briefmail.reports.figures import Audience, BriefReport, LinkFigures


class AudienceFigures(BaseModel):
    recipients: int
    accepted: int
    delivered: int
    bounced: int
    unsubscribed: int
    complained: int
    rate_base: str  # what click rates are divided by


class LinkOut(BaseModel):
    url: str
    kind: str  # source or cta
    label: str
    human_clicks: int
    unique_human_clicks: int
    filtered_clicks: int
    click_rate: float | None  # unique human clickers / reached, 4 decimals
    filtered_by_reason: dict[str, int]

    @classmethod
    def of(cls, link: LinkFigures) -> LinkOut:
        return cls(
            url=link.url,
            kind=link.kind,
            label=link.label,
            human_clicks=link.human_clicks,
            unique_human_clicks=link.unique_human_clicks,
            filtered_clicks=link.filtered_clicks,
            click_rate=None if link.click_rate is None else round(link.click_rate, 4),
            filtered_by_reason=dict(link.filtered_by_reason),
        )


class TopicReport(AudienceFigures):
    links: list[LinkOut]


class TimePointOut(BaseModel):
    start: datetime
    human: int
    filtered: int


class ReportOut(AudienceFigures):
    """A brief's figures over its real sends (proofs excluded): who got it and which
    links people, not scanners, followed; per link, per topic and over time."""

    brief: str
    title: str
    links: list[LinkOut]
    by_topic: dict[str, TopicReport]
    filtered_by_reason: dict[str, int]
    timeline: list[TimePointOut]
    sends: list[int]

    @classmethod
    def of(cls, report: BriefReport) -> ReportOut:
        return cls(
            brief=report.slug,
            title=report.title,
            **_audience(report.audience),
            links=[LinkOut.of(link) for link in report.links],
            by_topic={
                topic: TopicReport(
                    **_audience(figures.audience),
                    links=[LinkOut.of(x) for x in figures.links],
                )
                for topic, figures in report.by_topic.items()
            },
            filtered_by_reason=dict(report.filtered_by_reason),
            timeline=[
                TimePointOut(start=p.start, human=p.human, filtered=p.filtered)
                for p in report.timeline
            ],
            sends=list(report.send_ids),
        )


def _audience(audience: Audience) -> dict[str, Any]:
    return {
        "recipients": audience.recipients,
        "accepted": audience.accepted,
        "delivered": audience.delivered,
        "bounced": audience.bounced,
        "unsubscribed": audience.unsubscribed,
        "complained": audience.complained,
        "rate_base": audience.rate_base,
    }
