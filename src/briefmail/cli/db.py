"""`briefmail db`: schema management."""

from __future__ import annotations

import typer

from briefmail.cli import app
from briefmail.config import get_settings
from briefmail.db import upgrade as upgrade_database

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade() -> None:
    """Apply every pending migration: the only way a PostgreSQL database is upgraded.

    A SQLite database also upgrades itself on first use.
    """
    upgrade_database()
    typer.echo(f"database is up to date: {_safe_url(get_settings().database_url)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
