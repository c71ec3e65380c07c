"""`briefmail report SLUG`: who got a brief and which links people followed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from briefmail.cli import app
from briefmail.config import get_settings
from briefmail.db.session import session_scope
from briefmail.reports.figures import BriefReport, LinkFigures, brief_report
from briefmail.reports.html_report import report_html
from briefmail.reports.views import ReportOut

out = Console(highlight=False, soft_wrap=True)


@app.command()
def report(
    slug: Annotated[str, typer.Argument(help="The brief's slug.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report here.")
    ] = None,
) -> None:
    """Recipients, deliveries and clicks per link and per topic (test sends excluded).

    Human clicks exclude what the classifier flagged (scanners, prefetch, bots,
    clicks within the scanner window); citations count toward their source.
    """
    with session_scope() as session:
        figures = brief_report(session, slug)
    if html is not None:
        try:
            html.write_text(report_html(figures, lang=get_settings().lang), encoding="utf-8")
        except OSError as exc:
            from briefmail.cli import fail  # defined after the commands register

            raise fail(f"{html}: cannot write the report ({exc.strerror})") from None
    if as_json:
        document = ReportOut.of(figures).model_dump(mode="json")
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print_report(figures)
    if html is not None:
        typer.echo(f"Wrote {html}", err=as_json)


def print_report(figures: BriefReport) -> None:
    a = figures.audience
    out.print(f"[bold]{escape(figures.title)}[/] ({escape(figures.slug)})")
    out.print(
        f"{a.recipients} recipients · {a.accepted} accepted · {a.delivered} delivered · "
        f"{a.bounced} bounced · {a.unsubscribed} unsubscribed · {a.complained} complained"
    )
    out.print(_links_table(figures.links, f"Links (click rate per {a.rate_base})"))
    for topic, topic_figures in figures.by_topic.items():
        out.print(_links_table(topic_figures.links, f"Topic: {topic}"))
    if figures.filtered_by_reason:
        reasons = ", ".join(f"{k} {v}" for k, v in figures.filtered_by_reason.items())
        out.print(f"Filtered clicks by reason: {reasons}", markup=False)


def _links_table(links: tuple[LinkFigures, ...], title: str) -> Table:
    table = Table(title=Text(title), title_justify="left")
    table.add_column("link", overflow="fold")
    table.add_column("kind")
    for name in ("human", "unique", "filtered", "rate"):
        table.add_column(name, justify="right")
    for link in links:
        rate = "–" if link.click_rate is None else f"{link.click_rate:.1%}"
        table.add_row(
            Text(link.url),
            link.kind,
            str(link.human_clicks),
            str(link.unique_human_clicks),
            str(link.filtered_clicks),
            rate,
        )
    return table
