"""The figures of one brief: who got it, and which links people (not scanners) followed.

Definitions, one place:

- Only real sends count (`Send.kind == "brief"`); proofs sent with `--test-to` never do.
- `recipients`: deliveries of those sends that were not cancelled. `accepted`: reached
  the provider. `delivered`: the provider reported delivery (an unsubscribe or
  complaint implies it). `bounced`, `unsubscribed`, `complained`: final states.
- Links are the send's stored links. A body citation is the same destination as its
  source, so citation clicks are folded into their source (kind `source`, the source's
  URL): marketing asks "which sources do readers act on", not "which sentence". The
  honeypot link is not a link anybody reads and is not listed; its hits appear in
  `filtered_by_reason["honeypot"]`.
- `human_clicks`: clicks the classifier did not flag; `unique_human_clicks`: distinct
  subscribers among them; `filtered_clicks`: flagged ones, whatever the reason.
- `click_rate`: unique human clickers / reached, where reached = accepted less bounced
  and dropped. Not / delivered: delivery events arrive late and only with the event
  webhook, so a rate over them swings (past 100% while few have arrived); a rate over
  what reached the provider and did not come back means the same with or without it.
- `by_topic`: the same per topic the delivery matched (`Delivery.topics`); a delivery
  with several topics counts in each, one with none (all-topics subscriber) under
  `ALL_TOPICS`. Topics therefore overlap and do not add up to the total.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.db.models import Brief, Click, Delivery, Send, SendLink
from briefmail.errors import NotFoundError

ALL_TOPICS = "(all topics)"
ACCEPTED = frozenset(
    {"accepted", "deferred", "delivered", "dropped", "bounced", "unsubscribed", "complained"}
)
DELIVERED = frozenset({"delivered", "unsubscribed", "complained"})
_KIND_ORDER = {"source": 0, "cta": 1}

LinkKey = tuple[str, str]  # (kind as reported, url)


@dataclass(frozen=True, slots=True)
class Audience:
    recipients: int = 0
    accepted: int = 0
    delivered: int = 0
    bounced: int = 0
    unsubscribed: int = 0
    complained: int = 0

    dropped: int = 0

    @property
    def rate_base(self) -> str:
        return "reached (accepted less bounced and dropped)"

    @property
    def base(self) -> int:
        return max(self.accepted - self.bounced - self.dropped, 0)


@dataclass(frozen=True, slots=True)
class LinkFigures:
    url: str
    kind: str  # "source" or "cta"
    label: str
    source_number: int | None
    human_clicks: int
    unique_human_clicks: int
    filtered_clicks: int
    filtered_by_reason: Mapping[str, int]
    click_rate: float | None


@dataclass(frozen=True, slots=True)
class TopicFigures:
    audience: Audience
    links: tuple[LinkFigures, ...]


@dataclass(frozen=True, slots=True)
class TimePoint:
    start: datetime  # of an hour, or of a day for reports spanning more than two weeks
    human: int
    filtered: int


@dataclass(frozen=True, slots=True)
class BriefReport:
    slug: str
    title: str
    send_ids: tuple[int, ...]
    audience: Audience
    links: tuple[LinkFigures, ...]
    by_topic: Mapping[str, TopicFigures]
    filtered_by_reason: Mapping[str, int]
    timeline: tuple[TimePoint, ...]
    # Distinct subscribers with a human click on any listed link (the brief's click rate).
    unique_human_clickers: int = 0

    @property
    def click_rate(self) -> float | None:
        """Unique human clickers of the whole brief / reached (as for each link)."""
        base = self.audience.base
        return self.unique_human_clickers / base if base else None


@dataclass
class _Tally:
    human: int = 0
    filtered: int = 0
    clickers: set[int] = field(default_factory=set)
    reasons: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class _LinkInfo:
    key: LinkKey
    label: str
    source_number: int | None


def brief_report(session: Session, slug: str) -> BriefReport:
    brief = session.scalar(select(Brief).where(Brief.slug == slug))
    if brief is None:
        raise NotFoundError(f"no brief {slug!r}")
    send_ids = tuple(
        session.scalars(
            select(Send.id).where(Send.brief_id == brief.id, Send.kind == "brief").order_by(Send.id)
        )
    )
    links = _links(session, send_ids)
    topics_of, audiences = _deliveries(session, send_ids)

    overall: dict[LinkKey, _Tally] = defaultdict(_Tally)
    per_topic: dict[str, dict[LinkKey, _Tally]] = defaultdict(lambda: defaultdict(_Tally))
    reasons: Counter[str] = Counter()
    rows = session.execute(
        select(
            Click.send_id,
            Click.link_id,
            Click.subscriber_id,
            Click.automated,
            Click.reason,
            func.count(),
        )
        .where(Click.send_id.in_(send_ids))
        .group_by(Click.send_id, Click.link_id, Click.subscriber_id, Click.automated, Click.reason)
    )
    for send_id, link_id, subscriber_id, automated, reason, count in rows:
        if automated:
            reasons[reason or "unknown"] += count
        info = links.get((send_id, link_id))
        if info is None:
            continue  # the honeypot, or a link no longer stored
        tallies = [overall[info.key]]
        for topic in topics_of.get((send_id, subscriber_id), ()):
            tallies.append(per_topic[topic][info.key])
        for tally in tallies:
            if automated:
                tally.filtered += count
                tally.reasons[reason or "unknown"] += count
            else:
                tally.human += count
                if subscriber_id is not None:
                    tally.clickers.add(subscriber_id)

    catalogue = {info.key: info for info in links.values()}
    total = audiences.get(None, Audience())
    return BriefReport(
        slug=brief.slug,
        title=brief.title,
        send_ids=send_ids,
        audience=total,
        links=_figures(catalogue, overall, total),
        by_topic={
            topic: TopicFigures(audience, _figures(catalogue, per_topic.get(topic, {}), audience))
            for topic, audience in sorted(audiences.items(), key=lambda kv: str(kv[0]))
            if topic is not None
        },
        filtered_by_reason=dict(sorted(reasons.items())),
        timeline=_timeline(session, send_ids, links),
        unique_human_clickers=len(set().union(*(t.clickers for t in overall.values()))),
    )


def _links(session: Session, send_ids: Iterable[int]) -> dict[tuple[int, int], _LinkInfo]:
    """(send, link id) -> what the report calls it; citations fold into their source."""
    rows = list(session.scalars(select(SendLink).where(SendLink.send_id.in_(list(send_ids)))))
    sources: dict[tuple[int, int | None], SendLink] = {
        (r.send_id, r.source_number): r for r in rows if r.kind == "source" and r.source_number
    }
    out: dict[tuple[int, int], _LinkInfo] = {}
    for row in rows:
        if row.kind == "honeypot":
            continue
        if row.kind == "citation":
            source = sources.get((row.send_id, row.source_number))
            if source is not None:
                out[(row.send_id, row.link_id)] = _LinkInfo(
                    ("source", source.url), source.label, source.source_number
                )
                continue
            kind = "source"
        else:
            kind = row.kind
        out[(row.send_id, row.link_id)] = _LinkInfo((kind, row.url), row.label, row.source_number)
    return out


def _deliveries(
    session: Session, send_ids: Iterable[int]
) -> tuple[dict[tuple[int, int | None], tuple[str, ...]], dict[str | None, Audience]]:
    """Topics of each (send, subscriber), and the audience overall (None) and per topic."""
    topics_of: dict[tuple[int, int | None], tuple[str, ...]] = {}
    counts: dict[str | None, Counter[str]] = defaultdict(Counter)
    rows = session.execute(
        select(
            Delivery.send_id,
            Delivery.subscriber_id,
            Delivery.topics,
            Delivery.status,
            Delivery.accepted_at,
            Delivery.delivered_at,
        ).where(Delivery.send_id.in_(list(send_ids)), Delivery.status != "cancelled")
    )
    for send_id, subscriber_id, topic_text, status, accepted_at, delivered_at in rows:
        topics = tuple(t for t in (topic_text or "").split(";") if t) or (ALL_TOPICS,)
        topics_of[(send_id, subscriber_id)] = topics
        for key in (None, *topics):
            c = counts[key]
            c["recipients"] += 1
            c["accepted"] += status in ACCEPTED or accepted_at is not None
            c["delivered"] += status in DELIVERED or delivered_at is not None
            c["bounced"] += status == "bounced"
            c["dropped"] += status == "dropped"
            c["unsubscribed"] += status == "unsubscribed"
            c["complained"] += status == "complained"
    audiences = {key: Audience(**c) for key, c in counts.items()}
    return topics_of, audiences


def _figures(
    catalogue: Mapping[LinkKey, _LinkInfo], tallies: Mapping[LinkKey, _Tally], audience: Audience
) -> tuple[LinkFigures, ...]:
    ordered = sorted(
        catalogue.values(),
        key=lambda i: (_KIND_ORDER.get(i.key[0], 2), i.source_number or 0, i.key[1]),
    )
    out = []
    for info in ordered:
        tally = tallies.get(info.key, _Tally())
        unique = len(tally.clickers)
        out.append(
            LinkFigures(
                url=info.key[1],
                kind=info.key[0],
                label=info.label,
                source_number=info.source_number,
                human_clicks=tally.human,
                unique_human_clicks=unique,
                filtered_clicks=tally.filtered,
                filtered_by_reason=dict(sorted(tally.reasons.items())),
                click_rate=unique / audience.base if audience.base else None,
            )
        )
    return tuple(out)


def _timeline(
    session: Session, send_ids: Iterable[int], links: Mapping[tuple[int, int], _LinkInfo]
) -> tuple[TimePoint, ...]:
    """Clicks on listed links per hour (per day beyond two weeks), gaps filled with zeros."""
    stamps: list[tuple[datetime, bool]] = []
    rows = session.execute(
        select(Click.send_id, Click.link_id, Click.clicked_at, Click.automated).where(
            Click.send_id.in_(list(send_ids))
        )
    )
    for send_id, link_id, clicked_at, automated in rows:
        if (send_id, link_id) in links:
            stamps.append((clock.as_utc(clicked_at), bool(automated)))
    if not stamps:
        return ()
    first, last = min(t for t, _ in stamps), max(t for t, _ in stamps)
    step = timedelta(hours=1) if last - first <= timedelta(days=14) else timedelta(days=1)

    def bucket(t: datetime) -> datetime:
        t = t.replace(minute=0, second=0, microsecond=0)
        return t if step == timedelta(hours=1) else t.replace(hour=0)

    human: Counter[datetime] = Counter()
    filtered: Counter[datetime] = Counter()
    for t, automated in stamps:
        (filtered if automated else human)[bucket(t)] += 1
    points = []
    at, end = bucket(first), bucket(last)
    while at <= end:
        points.append(TimePoint(at, human[at], filtered[at]))
        at += step
    return tuple(points)
