"""An unexpected error inside a mounted app (the API, the console) is answered once
and reported as itself: the outer app's error page must not fail on the mounted app's
scope and bury the real error under its own."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from briefmail.api import subscribers as api_subscribers
from briefmail.config import get_settings
from briefmail.web.app import create_app
from tests.api.conftest import make_tokens


class Boom(RuntimeError):
    pass


def _raise(*_args: object, **_kwargs: object) -> object:
    raise Boom("the database said no")


def test_an_error_in_the_api_reaches_the_server_as_itself(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = make_tokens()["reader"]
    monkeypatch.setattr(api_subscribers, "list_topics", _raise)
    app = create_app(get_settings(), start_writer_early=False)

    async def get(raise_errors: bool) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_errors)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/api/v1/topics", headers={"authorization": f"Bearer {token}"})

    answer = asyncio.run(get(raise_errors=False))
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert "the database said no" not in answer.text
    # what the server logs: the error itself, not an AttributeError from an error page
    with pytest.raises(Boom):
        asyncio.run(get(raise_errors=True))
