"""`briefmail users`: who may sign in to the console, and with which role."""

from __future__ import annotations

import getpass
import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from briefmail import clock
from briefmail.accounts import users as accounts
from briefmail.accounts.audit import Action
from briefmail.accounts.roles import ROLES
from briefmail.accounts.views import UserOut
from briefmail.cli import app
from briefmail.cli.audit import record
from briefmail.db import session_scope
from briefmail.errors import InvalidInputError

users_app = typer.Typer(help="Console users and their roles.", no_args_is_help=True)
app.add_typer(users_app, name="users")

out = Console(highlight=False, soft_wrap=True)
_ROLE_HELP = f"One of {', '.join(ROLES)}."


def read_password() -> str:
    """The password from standard input: typed twice at a terminal (not echoed), or the
    first line of whatever is piped in. Never an argument: arguments show in `ps`."""
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise InvalidInputError("password: the two entries differ")
        return first
    line = sys.stdin.readline()
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        raise InvalidInputError("password: give it on standard input (e.g. piped)")
    return password


@users_app.command("add")
def add(
    email: Annotated[str, typer.Argument(help="The person's email (their sign-in name).")],
    role: Annotated[str, typer.Option("--role", help=_ROLE_HELP)],
) -> None:
    """Add a console user; the password is read from standard input.

    At a terminal it is typed twice (not echoed); otherwise the first line piped
    in is taken. Never an argument: arguments show in `ps`.
    """
    with session_scope() as session:
        # A bad role, a taken address or an unusable database is refused before
        # anyone types a password.
        accounts.check_new_user(session, email, role)
        password = read_password()
        user = accounts.add_user(session, email, role, password, now=clock.now())
        record(session, Action.USER_ADD, user.email, {"role": user.role})
        typer.echo(f"added {user.email} ({user.role})")


@users_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every console user with their role."""
    with session_scope() as session:
        users = [UserOut.of(u) for u in accounts.list_users(session)]
    if as_json:
        document = {"users": [u.model_dump(mode="json") for u in users]}
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    table = Table("email", "role", "added (UTC)")
    for user in users:
        table.add_row(user.email, user.role, f"{user.created_at:%Y-%m-%d %H:%M}")
    out.print(table)
    out.print(f"{len(users)} users")


@users_app.command("set-role")
def set_role(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    role: Annotated[str, typer.Argument(help=_ROLE_HELP)],
) -> None:
    """Change a user's role; their console sessions end (they sign in again)."""
    with session_scope() as session:
        before = accounts.get_user(session, email).role
        user = accounts.set_role(session, email, role, now=clock.now())
        if user.role != before:
            record(session, Action.USER_SET_ROLE, user.email, {"from": before, "to": user.role})
        typer.echo(f"{user.email}: {user.role}")


@users_app.command("remove")
def remove(email: Annotated[str, typer.Argument(help="The user's email.")]) -> None:
    """Remove a user; their sessions end, the audit log keeps what they did.

    The last admin cannot be removed.
    """
    with session_scope() as session:
        user = accounts.remove_user(session, email)
        record(session, Action.USER_REMOVE, user.email)
        typer.echo(f"removed {user.email}")
