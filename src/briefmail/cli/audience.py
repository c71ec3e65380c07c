"""`briefmail audience SLUG`: who a brief would reach, before anything is sent."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from briefmail.audience.segment import brief_audience
from briefmail.audience.topics import parse_topic_list
from briefmail.audience.views import AudienceOut
from briefmail.cli import app
from briefmail.db import session_scope

out = Console(highlight=False, soft_wrap=True)


@app.command("audience")
def audience(
    slug: Annotated[str, typer.Argument(help="The brief's slug (see `briefmail brief list`).")],
    topics: Annotated[
        str | None,
        typer.Option(help="Comma-separated topics of the brief to narrow to."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Count who the brief reaches: active, not suppressed subscribers of its topics.

    Subscribers with no topics take every topic, so they are always included
    (also when --topics narrows); they are counted once under "all topics". A
    subscriber with two of the topics counts in both rows but once in the total.
    """
    narrow = parse_topic_list(topics, ",") if topics is not None else None
    with session_scope() as session:
        brief, count = brief_audience(session, slug, narrow)
        title = f"audience of {brief.slug} ({brief.status})"
    if as_json:
        typer.echo(json.dumps(AudienceOut.of(count).model_dump(mode="json"), indent=2))
        return
    table = Table("topic", "subscribers", title=title)
    for topic, number in count.by_topic.items():
        table.add_row(topic, str(number))
    table.add_row("all topics", str(count.all_topics))
    table.add_section()
    table.add_row("total", str(count.total), style="bold")
    out.print(table)
