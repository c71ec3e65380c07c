"""Console fixtures: people of every role, and the real app served over HTTP.

The public URL is the server's own http address, as a laptop's would be, so the
session cookie is not Secure and plain-http clients send it back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from briefmail.config import Settings, get_settings
from tests.console.helpers import add_people
from tests.web.server import LiveServer


@pytest.fixture
def console_server(db_url: str) -> Iterator[Callable[..., LiveServer]]:
    """`console_server(**settings)`: the app on a free port, with one user per role."""
    add_people()
    servers: list[LiveServer] = []

    def start(**overrides: object) -> LiveServer:
        overrides.setdefault("public_url", "http://127.0.0.1")
        settings: Settings = get_settings().model_copy(update=overrides)
        server = LiveServer(settings).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
