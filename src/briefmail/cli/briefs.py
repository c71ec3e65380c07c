"""`briefmail brief`: import, approve and list stored briefs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from briefmail import clock
from briefmail.briefs.parse import load_brief
from briefmail.briefs.store import approve_brief, list_briefs, store_brief, summarise
from briefmail.cli import app
from briefmail.db import session_scope

brief_app = typer.Typer(help="Stored briefs: import, approve, list.", no_args_is_help=True)
app.add_typer(brief_app, name="brief")

out = Console(highlight=False, soft_wrap=True)

_OUTCOMES = {
    "created": "stored new brief (draft)",
    "updated": "content changed: stored, back to draft",
    "unchanged": "unchanged",
}


@brief_app.command("import")
def import_(file: Annotated[Path, typer.Argument(help="The brief file (.md with YAML).")]) -> None:
    """Store or update a brief; prints its slug as the last line.

    A changed file goes back to draft and needs approving again; the same file
    imported again keeps its status.
    """
    brief = load_brief(file)
    with session_scope() as session:
        result = store_brief(session, brief)
        row = result.brief
        typer.echo(f"{_OUTCOMES[result.outcome]}; status {row.status}")
        typer.echo(row.slug)


@brief_app.command("approve")
def approve(
    slug: Annotated[str, typer.Argument(help="The brief's slug.")],
    by: Annotated[str, typer.Option("--by", help="Who approves it.")],
) -> None:
    """Approve the stored text of a brief for sending."""
    with session_scope() as session:
        row = approve_brief(session, slug, by)
        when = clock.as_utc(row.approved_at).isoformat() if row.approved_at else "?"
        typer.echo(f"{row.slug}: approved by {row.approved_by} at {when}")


@brief_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every stored brief, newest first."""
    with session_scope() as session:
        briefs = [summarise(row) for row in list_briefs(session)]
    if as_json:
        typer.echo(json.dumps([b.as_json() for b in briefs], indent=2, ensure_ascii=False))
        return
    table = Table("slug", "status", "coverage", "approved", "topics")
    for brief in briefs:
        approved = ""
        if brief.approved_by and brief.approved_at:
            approved = f"{brief.approved_by}, {brief.approved_at:%Y-%m-%d %H:%M} UTC"
        table.add_row(
            brief.slug,
            brief.status,
            f"{brief.coverage.start} to {brief.coverage.end}",
            approved,
            ", ".join(brief.topics),
        )
    out.print(table)
    out.print(f"{len(briefs)} briefs")
