"""`briefmail brief`: import, approve and list stored briefs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from briefmail import clock
from briefmail.accounts.audit import Action
from briefmail.briefs.parse import load_brief
from briefmail.briefs.store import approve_brief, list_briefs
from briefmail.briefs.views import BriefList, BriefOut
from briefmail.cli import app, err_console
from briefmail.cli.audit import record
from briefmail.config import get_settings
from briefmail.db import session_scope
from briefmail.preview.build import PreviewOptions
from briefmail.preview.intake import take_in

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
    imported again keeps its status. Warnings are those of `briefmail preview`.
    """
    brief = load_brief(file)
    options = PreviewOptions.from_settings(get_settings())
    with session_scope() as session:
        stored = take_in(session, brief, options)
        if stored.outcome != "unchanged":
            record(session, Action.BRIEF_IMPORT, stored.slug, {"outcome": stored.outcome})
    for warning in stored.warnings:
        err_console.print(f"warning: {warning.code}: {warning.message}", markup=False)
    typer.echo(f"{_OUTCOMES[stored.outcome]}; status {stored.status}")
    typer.echo(stored.slug)


@brief_app.command("approve")
def approve(
    slug: Annotated[str, typer.Argument(help="The brief's slug.")],
    by: Annotated[str, typer.Option("--by", metavar="NAME", help="Who approves it.")],
) -> None:
    """Approve the stored text of a draft brief for sending."""
    with session_scope() as session:
        row = approve_brief(session, slug, by)
        record(session, Action.BRIEF_APPROVE, row.slug, {"by": row.approved_by})
        when = clock.as_utc(row.approved_at).isoformat() if row.approved_at else "?"
        typer.echo(f"{row.slug}: approved by {row.approved_by} at {when}")


@brief_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every stored brief, newest first, with status, coverage, approver and topics."""
    with session_scope() as session:
        briefs = BriefList(briefs=[BriefOut.of(row) for row in list_briefs(session)])
    if as_json:
        typer.echo(json.dumps(briefs.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    table = Table("slug", "status", "coverage", "approved", "topics")
    for brief in briefs.briefs:
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
    out.print(f"{len(briefs.briefs)} briefs")
