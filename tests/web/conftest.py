from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from briefmail.config import Settings, get_settings
from tests.web.server import LiveServer

BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


@pytest.fixture
def start_server() -> Iterator[Callable[..., LiveServer]]:
    """Start the real app under uvicorn on a free port: `start_server(**settings_overrides)`."""
    servers: list[LiveServer] = []

    def start(**overrides: object) -> LiveServer:
        settings: Settings = get_settings().model_copy(update=overrides)
        server = LiveServer(settings).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
