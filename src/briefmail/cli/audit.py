"""`briefmail audit list`, and how every CLI command that changes something is
recorded: who is the OS user, from where is "cli"."""

from __future__ import annotations

import getpass
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.accounts import audit
from briefmail.accounts.views import AuditEntryOut
from briefmail.cli import app
from briefmail.db import session_scope

audit_app = typer.Typer(help="The audit log: who did what, when, from where.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")

out = Console(highlight=False, soft_wrap=True)


def cli_actor() -> audit.Actor:
    """The person at the shell, as the OS names them."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        name = "unknown"
    return audit.Actor.cli(name)


def record(
    session: Session, action: audit.Action, target: str = "", detail: dict[str, Any] | None = None
) -> None:
    """Record a CLI action in the same transaction as the change itself."""
    audit.record(session, cli_actor(), action, target, now=clock.now(), detail=detail)


@audit_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many, newest first.")] = 100,
    actor: Annotated[str | None, typer.Option("--actor", help="Only this actor.")] = None,
    action: Annotated[str | None, typer.Option("--action", help="Only this action.")] = None,
) -> None:
    """The audit log, newest first: when, who (user, token or OS user), action, target, from."""
    with session_scope() as session:
        entries = [
            AuditEntryOut.of(e)
            for e in audit.list_entries(session, limit=limit, actor=actor, action=action)
        ]
    if as_json:
        document = {"entries": [e.model_dump(mode="json") for e in entries]}
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    table = Table("when (UTC)", "who", "action", "target", "from")
    for e in entries:
        table.add_row(
            f"{e.at:%Y-%m-%d %H:%M:%S}", f"{e.actor} ({e.actor_kind})", e.action, e.target, e.source
        )
    out.print(table)
