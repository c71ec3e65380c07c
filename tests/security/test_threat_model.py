"""SECURITY.md's threat model covers what the web app serves: every public path the
app routes is in its "Who can reach what" table, so a part added later (the archive,
the console, the API came after the table was written) cannot go unexamined."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.routing import Mount, Route

from briefmail.web.app import create_app
from briefmail.web.redirect import PREFIX as CLICK_PREFIX

SECURITY = (Path(__file__).resolve().parents[2] / "SECURITY.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = SECURITY.index(f"\n## {title}\n")
    end = SECURITY.find("\n## ", start + 1)
    return SECURITY[start : end if end != -1 else None]


def _first_segments() -> set[str]:
    """'/u', '/archive', '/feed.xml', '/api' ...: the first segment of every route."""
    app = create_app(start_writer_early=False)
    paths = [route.path for route in app.routes if isinstance(route, Route | Mount)]
    paths.append(CLICK_PREFIX)  # answered in front of the router
    return {"/" + path.strip("/").split("/")[0] for path in paths}


def test_who_can_reach_what_names_every_public_path() -> None:
    table = _section("Who can reach what")
    segments = _first_segments()
    assert {"/u", "/archive", "/console", "/api"} <= segments  # the check has something to find
    named = [s for s in segments if re.search(rf"(?<![\w/]){re.escape(s)}(?![\w.-])", table)]
    missing = sorted(segments - set(named))
    assert not missing, f"SECURITY.md's 'Who can reach what' does not name {missing}"


def test_every_credential_says_what_it_proves_and_what_a_leak_allows() -> None:
    proves, leaks = _section("What each token proves"), _section("What a leaked secret allows")
    for credential in ("session cookie", "API token"):
        assert credential in proves, credential
        assert credential in leaks, credential
