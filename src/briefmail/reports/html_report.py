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
        bars=Markup(link_bars(report.links)),  # noqa: S704 - built with every text escaped
        line=Markup(clicks_over_time(report.timeline)),  # noqa: S704 - numbers and escaped text
    )
