"""The report as JSON: the shape the issue fixes, plus a few extra keys."""

from __future__ import annotations

from typing import Any

from briefmail.reports.figures import Audience, BriefReport, LinkFigures


def report_json(report: BriefReport) -> dict[str, Any]:
    """{"brief", "recipients", "links": [...], "by_topic": {...}} and the other figures."""
    return {
        "brief": report.slug,
        "title": report.title,
        **_audience(report.audience),
        "links": [_link(link) for link in report.links],
        "by_topic": {
            topic: {**_audience(figures.audience), "links": [_link(x) for x in figures.links]}
            for topic, figures in report.by_topic.items()
        },
        "filtered_by_reason": dict(report.filtered_by_reason),
        "timeline": [
            {"start": p.start.isoformat(), "human": p.human, "filtered": p.filtered}
            for p in report.timeline
        ],
        "sends": list(report.send_ids),
    }


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


def _link(link: LinkFigures) -> dict[str, Any]:
    return {
        "url": link.url,
        "kind": link.kind,
        "label": link.label,
        "human_clicks": link.human_clicks,
        "unique_human_clicks": link.unique_human_clicks,
        "filtered_clicks": link.filtered_clicks,
        "click_rate": None if link.click_rate is None else round(link.click_rate, 4),
        "filtered_by_reason": dict(link.filtered_by_reason),
    }
