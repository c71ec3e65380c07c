"""Whether the database can be used, and what a person should do when it cannot.

PostgreSQL is never migrated behind anyone's back: in production a one-shot `migrate`
service (`briefmail db upgrade`) runs before the web app and the workers, and a schema
change should happen once, on purpose, not as a side effect of whichever process starts
first. So an unmigrated PostgreSQL database is reported with the command to run. SQLite
databases are a single user's file and upgrade themselves (see `session`).

Failures stay SQLAlchemy's inside the program (code that retries catches those); only
at an edge (the CLI's `main`, a long-running process starting) are they turned into a
`DatabaseError` whose one line names the database and the remedy.
"""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from briefmail.db.session import alembic_config, get_engine
from briefmail.errors import DatabaseError, DatabaseNotMigratedError, DatabaseUnavailableError

UPGRADE = "run `briefmail db upgrade`"


def check_ready(url: str) -> None:
    """Raise a `DatabaseError` unless the database answers and is fully migrated."""
    try:
        engine = get_engine(url)
        with engine.connect() as connection:
            _check_revision(connection, url)
    except CommandError as exc:  # SQLite upgrading itself from a revision we do not know
        raise DatabaseNotMigratedError(f"the database at {shown_url(url)}: {exc}") from exc
    except SQLAlchemyError as exc:
        raise DatabaseUnavailableError(
            f"cannot use the database at {shown_url(url)}: {_first_line(exc)}"
        ) from exc


def describe_failure(exc: BaseException, url: str) -> DatabaseError | None:
    """The `DatabaseError` to show for `exc`, or None when it is not a database failure.

    The cause is looked for again on a fresh connection: an error naming a missing
    table means "not migrated" only if the schema really is behind.
    """
    if not isinstance(exc, SQLAlchemyError | CommandError):
        return None
    try:
        check_ready(url)
    except DatabaseError as found:
        return found
    return DatabaseError(f"the database at {shown_url(url)} failed: {_first_line(exc)}")


def _check_revision(connection: Connection, url: str) -> None:
    current = set(MigrationContext.configure(connection).get_current_heads())
    script = ScriptDirectory.from_config(alembic_config(url))
    heads = set(script.get_heads())
    if current == heads:
        return
    where = f"the database at {shown_url(url)}"
    if not current:
        raise DatabaseNotMigratedError(f"{where} has no briefmail tables yet: {UPGRADE}")
    known = {revision.revision for revision in script.walk_revisions()}
    unknown = sorted(current - known)
    if unknown:
        raise DatabaseNotMigratedError(
            f"{where} is at revision {', '.join(unknown)}, which this version of briefmail "
            "does not know (a newer version migrated it): run that version, or upgrade"
        )
    raise DatabaseNotMigratedError(
        f"{where} is at revision {', '.join(sorted(current))}, this version needs "
        f"{', '.join(sorted(heads))}: {UPGRADE}"
    )


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def _first_line(exc: BaseException) -> str:
    """The driver's own words, first line only (SQLAlchemy appends SQL and a link)."""
    source = exc.orig if isinstance(exc, DBAPIError) else exc
    lines = [line.strip() for line in str(source).splitlines() if line.strip()]
    return lines[0][:300] if lines else type(source).__name__
