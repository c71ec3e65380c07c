"""The `briefmail` command.

Commands are thin: parse arguments, call a service, print. Errors become exit codes
only here, in `main`: bad input (a brief, a CSV, an argument, a setting) exits 2, any
other failure exits 1, and neither prints a traceback unless BRIEFMAIL_DEBUG is set.
Database failures are described once, here, by `db.readiness`; anything else that
escapes a command is reported in one line as unexpected.
"""

from __future__ import annotations

import sys
import traceback

import typer
from rich.console import Console

from briefmail.config import get_settings
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
        api_tokens,
        archive,
        audience,
        audit,
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
        users,
        web,
        worker,
    )


def fail(message: str, *, code: int = 1) -> typer.Exit:
    """Print a one-line error; return the Exit for the command to raise."""
    err_console.print(f"briefmail: error: {message}", markup=False)
    return typer.Exit(code)


def main() -> None:
    try:
        # Every setting is checked before any command runs (one line per bad variable),
        # except to show help, which must work while a setting is wrong.
        if not _help_only(sys.argv[1:]):
            get_settings()
        app()
    except KeyboardInterrupt:
        err_console.print("briefmail: interrupted", markup=False)
        sys.exit(130)
    except Exception as exc:
        error = _described(exc)
        if _debug():
            traceback.print_exc()
        err_console.print(f"briefmail: error: {error}", markup=False)
        sys.exit(2 if isinstance(error, InvalidInputError | ConfigError) else 1)


def _help_only(args: list[str]) -> bool:
    return not args or "--help" in args


def _described(exc: Exception) -> BriefmailError:
    if isinstance(exc, BriefmailError):
        return exc
    from briefmail.db.readiness import describe_failure

    found = describe_failure(exc, get_settings().database_url)
    if found is not None:
        return found
    lines = str(exc).strip().splitlines()
    detail = f": {lines[0]}" if lines else ""
    return BriefmailError(
        f"unexpected {type(exc).__name__}{detail} (BRIEFMAIL_DEBUG=1 shows the traceback)"
    )


def _debug() -> bool:
    try:
        return get_settings().debug
    except ConfigError:  # the settings are what failed; their message says it all
        return False


# Last, so command modules can import `fail` and `err_console` from here.
_register()
