"""`briefmail topics`: the topics subscribers and briefs have named, with counts."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from briefmail.audience.topics import list_topics
from briefmail.audience.views import TopicsOut
from briefmail.cli import app
from briefmail.db import session_scope

topics_app = typer.Typer(help="Topics and who chose them.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")

out = Console(highlight=False, soft_wrap=True)


@topics_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every topic with its active, not suppressed subscribers.

    Subscribers with no topics take every topic; they are counted once,
    separately (`all_topics`), not added to each topic's figure.
    """
    with session_scope() as session:
        listing = list_topics(session)
    if as_json:
        document = TopicsOut.of(listing).model_dump(mode="json")
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    table = Table("slug", "name", "subscribers")
    for topic in listing.topics:
        table.add_row(topic.slug, topic.name, str(topic.subscribers))
    out.print(table)
    n = listing.all_topics
    out.print(
        f"{n} subscriber{'' if n == 1 else 's'} with no topics "
        f"take{'s' if n == 1 else ''} all topics (not counted above)"
    )
