"""`briefmail api-tokens`: bearer tokens for the REST API, each with its scopes."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from briefmail import clock
from briefmail.accounts import tokens
from briefmail.accounts.audit import Action
from briefmail.accounts.views import TokenOut
from briefmail.cli import app
from briefmail.cli.audit import cli_actor, record
from briefmail.db import session_scope

tokens_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)
app.add_typer(tokens_app, name="api-tokens")

out = Console(highlight=False, soft_wrap=True)


@tokens_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. cms.")],
    scopes: Annotated[
        str, typer.Option("--scopes", help=f"Comma-separated: {', '.join(tokens.SCOPES)}.")
    ],
) -> None:
    """Create a token; it is printed once, as the last line, and stored only as a hash."""
    with session_scope() as session:
        token, row = tokens.create_token(
            session, name, scopes.split(","), now=clock.now(), by=cli_actor().name
        )
        record(session, Action.TOKEN_CREATE, row.name, {"scopes": row.scopes})
        typer.echo(f"created token {row.name} ({', '.join(row.scopes)}); it is shown only now:")
        typer.echo(token)


@tokens_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every token (never the token itself): scopes, created, last used, revoked."""
    with session_scope() as session:
        rows = [TokenOut.of(row) for row in tokens.list_tokens(session)]
    if as_json:
        document = {"tokens": [row.model_dump(mode="json") for row in rows]}
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    table = Table("name", "scopes", "created (UTC)", "last used", "revoked")
    for row in rows:
        table.add_row(
            row.name,
            ", ".join(row.scopes),
            f"{row.created_at:%Y-%m-%d %H:%M} by {row.created_by}",
            f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never",
            f"{row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "",
        )
    out.print(table)


@tokens_app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token: requests carrying it are refused from now on."""
    with session_scope() as session:
        row = tokens.revoke_token(session, name, now=clock.now())
        record(session, Action.TOKEN_REVOKE, row.name)
        typer.echo(f"revoked {row.name}")
