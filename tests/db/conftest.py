"""A PostgreSQL database nobody migrated, and a port nobody listens on."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from briefmail.db.session import dispose_engines
from tests.conftest import PG_ADMIN_URL


@pytest.fixture
def empty_pg() -> Iterator[str]:
    """A new, empty PostgreSQL database (no tables), dropped afterwards."""
    name = f"briefmail_empty_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    dispose_engines()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def closed_port_url() -> str:
    """A PostgreSQL URL on a local port that was just free (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql://briefmail:s3cret-pw@127.0.0.1:{port}/briefmail"
