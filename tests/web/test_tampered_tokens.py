"""Page tokens naming ids no database integer holds are a plain 404, like any bad token:
the id is looked up before the MAC can be checked (it says whose secret to use)."""

from __future__ import annotations

import httpx

from briefmail.tracking.tokens import Purpose, sign
from tests.tracking.factories import build_world
from tests.web.conftest import BROWSER_UA


def test_tampered_tokens_naming_huge_ids_are_404_not_500(db_url, start_server) -> None:
    build_world(db_url, subscribers=1)
    server = start_server()
    forged = {
        "u": sign([b"not our key"], Purpose.UNSUBSCRIBE, 2**64, 0, extra=b"s"),
        "preferences": sign([b"not our key"], Purpose.PREFERENCES, 2**66, 1, extra=b"s"),
        "confirm": sign([b"not our key"], Purpose.CONFIRM, 2**63, extra=b"s"),
    }
    for route, token in forged.items():
        answer = httpx.get(f"{server.url}/{route}/{token}", headers={"user-agent": BROWSER_UA})
        assert answer.status_code == 404, (route, answer.status_code)
