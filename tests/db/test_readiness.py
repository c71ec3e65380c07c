"""`check_ready` and `describe_failure`: what a person is told about a database it cannot use."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from briefmail.db.models import Send
from briefmail.db.readiness import check_ready, describe_failure
from briefmail.db.session import alembic_config, dispose_engines, get_engine, session_scope
from briefmail.errors import (
    DatabaseError,
    DatabaseNotMigratedError,
    DatabaseUnavailableError,
    InvalidInputError,
)

HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def test_a_migrated_database_is_ready(db_url: str) -> None:
    check_ready(db_url)


def test_an_empty_postgresql_database_says_to_upgrade(empty_pg: str) -> None:
    with pytest.raises(DatabaseNotMigratedError) as caught:
        check_ready(empty_pg)
    assert str(caught.value) == (
        f"the database at {empty_pg} has no briefmail tables yet: run `briefmail db upgrade`"
    )


def test_postgresql_is_never_migrated_behind_anyone_s_back(empty_pg: str) -> None:
    with pytest.raises(DatabaseNotMigratedError):
        check_ready(empty_pg)
    with create_engine(empty_pg).connect() as conn:
        tables = conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
        assert tables.scalar() == 0


def test_a_database_behind_names_both_revisions(empty_pg: str) -> None:
    with get_engine(empty_pg, auto_upgrade=False).begin() as connection:
        cfg = alembic_config(empty_pg)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0001")
    with pytest.raises(DatabaseNotMigratedError) as caught:
        check_ready(empty_pg)
    assert f"is at revision 0001, this version needs {HEAD}: run `briefmail db upgrade`" in str(
        caught.value
    )


def test_a_revision_from_a_newer_version_is_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    get_engine(url)  # SQLite migrates itself
    with get_engine(url).begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    dispose_engines()  # the next process, which upgrades on its first engine
    with pytest.raises(DatabaseNotMigratedError, match="f00d"):
        check_ready(url)


def test_a_closed_port_is_unavailable_and_the_password_is_not_shown(closed_port_url: str) -> None:
    with pytest.raises(DatabaseUnavailableError) as caught:
        check_ready(closed_port_url)
    message = str(caught.value)
    assert message.startswith("cannot use the database at postgresql://briefmail:***@127.0.0.1:")
    assert "Connection refused" in message
    assert "s3cret" not in message
    assert "\n" not in message


def test_a_sqlite_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are not the tables you are looking for\n" * 100)
    with pytest.raises(DatabaseUnavailableError, match="file is not a database"):
        check_ready(f"sqlite:///{path}")


def test_a_sqlite_folder_that_cannot_be_made(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DatabaseUnavailableError, match="cannot create the folder"):
        get_engine(f"sqlite:///{blocker / 'sub' / 'x.db'}")


def test_describe_failure_finds_the_cause_again(empty_pg: str) -> None:
    with pytest.raises(ProgrammingError) as caught, session_scope(empty_pg) as session:
        session.execute(text("SELECT * FROM subscribers"))
    assert isinstance(describe_failure(caught.value, empty_pg), DatabaseNotMigratedError)


def test_describe_failure_of_a_working_database_keeps_the_driver_s_words(db_url: str) -> None:
    error = OperationalError("SELECT 1", {}, Exception("deadlock detected\nDETAIL: ..."))
    found = describe_failure(error, db_url)
    assert type(found) is DatabaseError
    assert str(found).endswith("failed: deadlock detected")


def test_describe_failure_leaves_other_errors_alone(db_url: str) -> None:
    assert describe_failure(ValueError("no"), db_url) is None


@pytest.mark.parametrize("number", [2**63, -(2**63) - 1, 10**20])
def test_a_number_no_column_holds_is_bad_input(db_url: str, number: int) -> None:
    with pytest.raises(InvalidInputError) as caught, session_scope() as session:
        session.scalars(select(Send.id).where(Send.id == number)).all()
    assert str(caught.value).startswith(f"{number} is out of range")


def test_numbers_in_range_still_work(db_url: str) -> None:
    with session_scope() as session:
        assert session.scalars(select(Send.id).where(Send.id == 2**63 - 1)).all() == []
