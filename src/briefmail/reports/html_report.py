"""The report as one self-contained HTML page: inline CSS and SVG, no external URL.

Destinations are shown as text, not links, so opening the report loads and follows
nothing.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from markupsafe import Markup

from briefmail import clock
from briefmail.reports.charts import clicks_over_time, link_bars
from briefmail.reports.figures import BriefReport

NARROW = 300  # the phone charts' width in SVG units: labels of 11+ pixels on 320-pixel screens

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def report_html(report: BriefReport, *, lang: str = "en") -> str:
    return _ENV.get_template("report.html").render(
        report=report,
        lang=lang,
        generated=clock.now().strftime("%Y-%m-%d %H:%M UTC"),
        # Each chart twice: a wide one, and a narrow one the page shows on phones instead
        # (a 640-wide chart shrunk to a phone's width has 6-pixel labels).
        bars=Markup(link_bars(report.links)),  # noqa: S704 - built with every text escaped
        bars_narrow=Markup(  # noqa: S704 - built with every text escaped
            link_bars(report.links, width=NARROW, stacked=True, key="bars-narrow")
        ),
        line=Markup(clicks_over_time(report.timeline)),  # noqa: S704 - numbers and escaped text
        line_narrow=Markup(  # noqa: S704 - numbers and escaped text
            clicks_over_time(report.timeline, width=NARROW, height=200, key="line-narrow")
        ),
    )
