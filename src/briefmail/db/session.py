"""Engines and sessions.

One engine per URL per process. SQLite gets WAL and a busy timeout so the web app,
the CLI and in-process tasks can share one file; every engine brings a SQLite
database up to date by itself, while PostgreSQL is migrated explicitly
(`briefmail db upgrade`, the compose `migrate` service; see `readiness`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, ExceptionContext, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from briefmail.config import get_settings
from briefmail.errors import DatabaseUnavailableError, InvalidInputError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")

_engines: dict[str, Engine] = {}
_lock = threading.Lock()
# A server that does not answer is reported after this long, not after TCP gives up.
CONNECT_TIMEOUT_SECONDS = 10
INTEGER_RANGE = range(-(2**63), 2**63)  # what both databases store in an integer column


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "sqlite"


def alembic_config(url: str) -> Config:
    # Imported here: alembic is most of the import time of a process that only writes
    # rows (the click writer starts with the web app).
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None) -> None:
    """Apply every migration to the database at `url` (default: the configured one)."""
    target = url or get_settings().database_url
    engine = get_engine(target, auto_upgrade=False)
    from alembic import command

    with engine.begin() as connection:
        cfg = alembic_config(target)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def get_engine(url: str | None = None, *, auto_upgrade: bool = True) -> Engine:
    target = url or get_settings().database_url
    with _lock:
        engine = _engines.get(target)
        if engine is None:
            engine = _create(target)
            _engines[target] = engine
            fresh = True
        else:
            fresh = False
    if fresh and auto_upgrade and is_sqlite(engine):
        upgrade(target)
    return engine


def _create(url: str) -> Engine:
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseUnavailableError(
                    f"cannot create the folder of the SQLite database {database}: {exc.strerror}"
                ) from exc
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        connect_args = {}
        if "connect_timeout" not in make_url(url).query:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        engine = create_engine(
            url, pool_pre_ping=True, pool_size=10, max_overflow=10, connect_args=connect_args
        )
    event.listen(engine, "handle_error", _number_out_of_range)
    return engine


def _number_out_of_range(context: ExceptionContext) -> None:
    """A number no integer column can hold is the caller's mistake (`sends show
    99999999999999999999`), on either database: PostgreSQL answers "bigint out of range"
    (SQLSTATE 22003), while SQLite's driver raises OverflowError before the statement
    runs, which SQLAlchemy does not wrap. Both become one InvalidInputError."""
    original = context.original_exception
    if not (isinstance(original, OverflowError) or getattr(original, "sqlstate", "") == "22003"):
        return
    too_large = next((n for n in _integers(context.parameters) if n not in INTEGER_RANGE), None)
    if too_large is not None:
        raise InvalidInputError(
            f"{too_large} is out of range: the database holds whole numbers from "
            f"{INTEGER_RANGE.start} to {INTEGER_RANGE.stop - 1}"
        ) from original


def _integers(parameters: Any) -> Iterator[int]:
    """Every int among a statement's parameters (a mapping, a sequence, or a list of them)."""
    values = parameters.values() if isinstance(parameters, Mapping) else parameters or ()
    for value in values:
        if isinstance(value, Mapping | list | tuple):
            yield from _integers(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            yield value


def dispose_engines() -> None:
    """Forget every engine (after a fork, or between tests that change the URL)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


def session_scope(url: str | None = None) -> AbstractContextManager[Session]:
    """A session of the database at `url` (the settings' by default) in `transaction`."""
    return transaction(session_factory(url))


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session committed on success and rolled back on any error. Services that must
    commit as they go (the ledger takes and releases its write lock) may commit inside."""
    session = sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
