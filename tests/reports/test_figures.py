"""Report figures on a hand-built data set whose answers are worked out by hand."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from briefmail.db.models import Click, Delivery
from briefmail.db.session import session_scope
from briefmail.errors import NotFoundError
from briefmail.reports.figures import ALL_TOPICS, brief_report
from briefmail.reports.html_report import report_html
from briefmail.reports.views import ReportOut
from tests.tracking.factories import LINKS, T0, build_world

A, B, C = LINKS[1][1], LINKS[2][1], LINKS[3][1]  # source 1, source 2, the CTA
LAYOUT = [  # per subscriber: matched topics, delivery status
    ("learning-design", "delivered"),
    ("learning-design;accreditation", "delivered"),
    ("accreditation", "bounced"),
    ("", "unsubscribed"),
    ("", "accepted"),
    ("", "cancelled"),
]


def add_clicks(url: str, send_id: int, rows: list[tuple[int, int, float, str | None]]) -> None:
    with session_scope(url) as s:
        for i, (subscriber, link_id, hours, reason) in enumerate(rows):
            s.add(
                Click(
                    send_id=send_id,
                    link_id=link_id,
                    subscriber_id=subscriber,
                    clicked_at=T0 + timedelta(hours=hours),
                    method="GET",
                    automated=reason is not None,
                    reason=reason,
                    event_key=f"{send_id}-{i}-{subscriber}-{link_id}",
                )
            )


@pytest.fixture
def data(db_url: str):
    world = build_world(db_url, subscribers=len(LAYOUT))
    s0, s1, s2, s3, _s4, _s5 = world.subscribers
    with session_scope(db_url) as s:
        for sub, (topics, status) in zip(world.subscribers, LAYOUT, strict=True):
            delivery = s.get(Delivery, world.deliveries[sub])
            delivery.topics, delivery.status = topics, status
    add_clicks(
        db_url,
        world.send_id,
        [
            (s0, 1, 1.2, None),
            (s0, 1, 5.5, None),
            (s0, 4, 1.3, None),
            (s0, 3, 2.0, None),
            (s1, 2, 1.0, None),
            (s1, 1, 0.0, "scanner-ua"),
            (s2, 1, 0.01, "window"),
            (s3, 3, 5.1, None),
            (s3, 0, 0.02, "honeypot"),
        ],
    )
    proof = build_world(
        db_url, kind="test", brief_id=world.brief_id, subscribers=1, email_prefix="proof"
    )
    add_clicks(db_url, proof.send_id, [(proof.subscribers[0], 1, 0.5, None)] * 1)
    other = build_world(db_url, slug="another-brief", subscribers=1, email_prefix="other")
    add_clicks(db_url, other.send_id, [(other.subscribers[0], 3, 0.5, None)])
    return world


def test_totals_and_links(db_url, data) -> None:
    report = brief_report_for(db_url, data.brief_slug)
    a = report.audience
    assert (a.recipients, a.accepted, a.delivered, a.bounced, a.unsubscribed) == (5, 5, 3, 1, 1)
    # Rates are over what reached the provider and did not bounce: 5 accepted - 1 bounced.
    assert a.base == 4
    got = [
        (x.url, x.kind, x.human_clicks, x.unique_human_clicks, x.filtered_clicks, x.click_rate)
        for x in report.links
    ]
    assert got == [
        (A, "source", 3, 1, 2, pytest.approx(1 / 4)),  # the citation's click folded in
        (B, "source", 1, 1, 0, pytest.approx(1 / 4)),
        (C, "cta", 2, 2, 0, pytest.approx(2 / 4)),
    ]
    assert dict(report.filtered_by_reason) == {"honeypot": 1, "scanner-ua": 1, "window": 1}
    assert dict(report.links[0].filtered_by_reason) == {"scanner-ua": 1, "window": 1}
    assert report.send_ids == (data.send_id,)  # the proof send is not counted


def test_by_topic(db_url, data) -> None:
    by_topic = brief_report_for(db_url, data.brief_slug).by_topic
    assert list(by_topic) == [ALL_TOPICS, "accreditation", "learning-design"]

    def rows(topic: str):
        return [
            (x.kind, x.human_clicks, x.unique_human_clicks, x.filtered_clicks, x.click_rate)
            for x in by_topic[topic].links
        ]

    design = by_topic["learning-design"].audience
    assert (design.recipients, design.delivered) == (2, 2)
    assert rows("learning-design") == [
        ("source", 3, 1, 1, 0.5),
        ("source", 1, 1, 0, 0.5),
        ("cta", 1, 1, 0, 0.5),
    ]
    accreditation = by_topic["accreditation"].audience
    assert (accreditation.recipients, accreditation.delivered, accreditation.bounced) == (2, 1, 1)
    assert rows("accreditation") == [
        ("source", 0, 0, 2, 0.0),
        ("source", 1, 1, 0, 1.0),
        ("cta", 0, 0, 0, 0.0),
    ]
    every = by_topic[ALL_TOPICS].audience
    assert (every.recipients, every.delivered, every.unsubscribed) == (2, 1, 1)
    assert rows(ALL_TOPICS) == [
        ("source", 0, 0, 0, 0.0),
        ("source", 0, 0, 0, 0.0),
        ("cta", 1, 1, 0, 0.5),  # an unsubscribe is no delivery report: base 2, not 1
    ]


def test_timeline_counts_listed_links_per_hour(db_url, data) -> None:
    timeline = brief_report_for(db_url, data.brief_slug).timeline
    assert [p.start for p in timeline] == [T0 + timedelta(hours=h) for h in range(6)]
    assert [(p.human, p.filtered) for p in timeline] == [
        (0, 2),
        (3, 0),
        (1, 0),
        (0, 0),
        (0, 0),
        (2, 0),
    ]


def test_json_has_the_agreed_shape(db_url, data) -> None:
    document = ReportOut.of(brief_report_for(db_url, data.brief_slug)).model_dump(mode="json")
    assert document["brief"] == data.brief_slug
    assert document["recipients"] == 5
    assert document["links"][2] == {
        "url": C,
        "kind": "cta",
        "label": "link 3",
        "human_clicks": 2,
        "unique_human_clicks": 2,
        "filtered_clicks": 0,
        "click_rate": 0.5,
        "filtered_by_reason": {},
    }
    for link in document["links"]:
        assert {"url", "kind", "human_clicks", "unique_human_clicks", "filtered_clicks"} <= set(
            link
        )
    assert set(document["by_topic"]) == {ALL_TOPICS, "accreditation", "learning-design"}
    assert document["by_topic"]["learning-design"]["links"][0]["human_clicks"] == 3
    json.dumps(document)  # serialisable as it is


def test_html_is_self_contained(db_url, data) -> None:
    page = report_html(brief_report_for(db_url, data.brief_slug))
    assert page.count("<svg") == 4  # two charts, each wide and narrow (phones)
    assert "<polyline" in page
    assert "<rect" in page
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page)
    assert "@import" not in page
    assert A in page  # shown as text


def test_unknown_brief_is_not_found(db_url) -> None:
    with session_scope(db_url) as s, pytest.raises(NotFoundError):
        brief_report(s, "nope")


def test_cli_json_and_html(db_url, data, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "briefmail",
            "report",
            data.brief_slug,
            "--json",
            "--html",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["brief"] == data.brief_slug
    assert [x["human_clicks"] for x in document["links"]] == [3, 1, 2]
    assert out.read_text().startswith("<!doctype html>")
    table = subprocess.run(
        [sys.executable, "-m", "briefmail", "report", data.brief_slug],
        capture_output=True,
        text=True,
        check=False,
    )
    assert table.returncode == 0
    assert "5 recipients" in table.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "briefmail", "report", "no-such-brief"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 1
    assert "no brief 'no-such-brief'" in missing.stderr
    assert "Traceback" not in missing.stderr


def brief_report_for(url: str, slug: str):
    with session_scope(url) as s:
        return brief_report(s, slug)
