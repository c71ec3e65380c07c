"""The `briefmail` command.

Commands are thin: parse arguments, call a service, print. Library errors become
exit codes only here: bad input (a brief, a CSV, an argument, a setting) exits 2, any
other refusal exits 1, and neither prints a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from briefmail.errors import BriefmailError, ConfigError, InvalidInputError

app = typer.Typer(
    name="briefmail",
    help="Weekly insight briefs: preview, segment, send exactly once, track clicks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _register() -> None:
    # Each module adds its own commands; the order here is the order in --help.
    from briefmail.cli import (  # noqa: F401
        audience,
        briefs,
        db,
        demo,
        preview,
        report,
        schedule,
        send,
        sends,
        subscribers,
        topics,
        web,
        worker,
    )


def fail(message: str, *, code: int = 1) -> typer.Exit:
    """Print a one-line error; return the Exit for the command to raise."""
    err_console.print(f"briefmail: error: {message}", markup=False)
    return typer.Exit(code)


def main() -> None:
    try:
        app()
    except (InvalidInputError, ConfigError) as exc:
        err_console.print(f"briefmail: error: {exc}", markup=False)
        sys.exit(2)
    except BriefmailError as exc:
        err_console.print(f"briefmail: error: {exc}", markup=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("briefmail: interrupted", markup=False)
        sys.exit(130)


# Last, so command modules can import `fail` and `err_console` from here.
_register()
