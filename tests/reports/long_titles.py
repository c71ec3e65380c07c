"""A report whose sources have very long titles, for the chart layout tests."""

from __future__ import annotations

from datetime import UTC, datetime

from briefmail.reports.figures import Audience, BriefReport, LinkFigures, TimePoint

LONG_TITLES = (
    "Faculty Feed — Clinician-educators want coaching programs, not more lectures: "
    "a mixed-methods study of 42 academic medical centres and their faculty development",
    "W" * 120,
    "MEDICAL EDUCATION QUARTERLY: WORKPLACE-BASED ASSESSMENT AT SCALE " * 3,
    "<script>alert('x')</script> & \"quoted\" <b>not bold</b> " * 4,
    "Ünïcödé Щёлкни Жизнь Шкала — 臨床教育者のコーチング 😀👩‍💻 café crème " * 3,
    "",  # no label: the URL is shown
    "Short",
    "Line\nbreaks\tand    runs of   white space " * 6,
)
LONG_URL = "https://www.example.org/" + "very-long-path-segment/" * 12


def long_titles_report() -> BriefReport:
    """Eight sources and a call to action, with counts from none to tens of thousands."""
    counts = [(120, 30), (3, 0), (0, 0), (45, 900), (9, 1), (64_000, 12_000), (1, 1), (7, 70)]
    links = [
        LinkFigures(
            url=LONG_URL if not title else f"https://www.example.org/{n}",
            kind="source",
            label=title,
            source_number=n,
            human_clicks=human,
            unique_human_clicks=human,
            filtered_clicks=filtered,
            filtered_by_reason={},
            click_rate=None,
        )
        for n, (title, (human, filtered)) in enumerate(zip(LONG_TITLES, counts, strict=True), 1)
    ]
    links.append(
        LinkFigures(
            url="https://www.chatcme.example.com/demo",
            kind="cta",
            label="Try ChatCME " * 20,
            source_number=None,
            human_clicks=500,
            unique_human_clicks=480,
            filtered_clicks=20,
            filtered_by_reason={},
            click_rate=0.5,
        )
    )
    return BriefReport(
        slug="long-titles",
        title="Long titles",
        send_ids=(1,),
        audience=Audience(recipients=1000, accepted=1000),
        links=tuple(links),
        by_topic={},
        filtered_by_reason={},
        timeline=(TimePoint(datetime(2024, 1, 8, 9, tzinfo=UTC), 3, 1),),
    )
