"""The real web app under uvicorn, with one token of each kind."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from briefmail import clock
from briefmail.accounts import tokens
from briefmail.config import get_settings
from briefmail.db.session import session_scope
from tests.web.server import LiveServer

SCOPES = {
    "reader": ["read"],
    "editor": ["read", "briefs:write"],
    "sender": ["read", "sends:write"],
    "crm": ["read", "subscribers:write"],
    "cms": ["read", "briefs:write", "sends:write", "subscribers:write"],
    "briefs_only": ["briefs:write"],  # writes, cannot read
}


@dataclass
class Api:
    url: str
    tokens: dict[str, str]
    server: LiveServer

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {self.tokens.get(token, token)}"} if token else {}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=30)


def make_tokens() -> dict[str, str]:
    made = {}
    with session_scope() as session:
        for name, scopes in SCOPES.items():
            made[name], _ = tokens.create_token(session, name, scopes, now=clock.now(), by="test")
    return made


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    made = make_tokens()
    server = LiveServer(get_settings()).start()
    try:
        yield Api(server.url, made, server)
    finally:
        server.stop()
