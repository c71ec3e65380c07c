"""A session on the database under test (both SQLite and PostgreSQL via `db_url`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from briefmail.db.session import session_factory


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    with session_factory(db_url)() as session:
        yield session
