"""Every route over real HTTP with each kind of token: none, unknown, without the
route's scope, and the right one (in an order that makes each right call succeed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from briefmail import clock
from tests.api.conftest import Api
from tests.conftest import EXAMPLE_BRIEF

SLUG = "2024-01-08-clinician-educators-want-coaching-programs-not-more-lectures"
MARKDOWN = {"content-type": "text/markdown"}
CSV = "email,name,topics\nbob@example.org,Bob,Learning design\n"


def _routes() -> list[tuple[str, str, str, str, dict[str, Any], int]]:
    """(method, path, right token, a token without the scope, request, right status)."""
    later = (clock.now() + timedelta(days=30)).isoformat()
    brief = {"content": EXAMPLE_BRIEF.read_bytes(), "headers": MARKDOWN}
    return [
        ("POST", "/briefs", "editor", "reader", brief, 201),
        ("GET", "/briefs", "reader", "briefs_only", {}, 200),
        ("GET", f"/briefs/{SLUG}", "reader", "briefs_only", {}, 200),
        ("GET", f"/briefs/{SLUG}/preview.html", "reader", "briefs_only", {}, 200),
        ("POST", f"/briefs/{SLUG}/approve", "editor", "reader", {"json": {"by": "Dana"}}, 200),
        ("GET", f"/briefs/{SLUG}/audience", "reader", "briefs_only", {}, 200),
        ("POST", "/sends", "sender", "reader", {"json": {"brief": SLUG, "at": later}}, 201),
        ("GET", "/sends", "reader", "briefs_only", {}, 200),
        ("GET", "/sends/1", "reader", "briefs_only", {}, 200),
        ("POST", "/sends/1/cancel", "sender", "reader", {}, 200),
        ("GET", "/schedule", "reader", "briefs_only", {}, 200),
        (
            "PUT",
            "/schedule",
            "sender",
            "reader",
            {"json": {"day": "mon", "time": "09:00", "tz": "America/New_York"}},
            200,
        ),
        ("POST", "/subscribers", "crm", "reader", {"json": {"email": "ann@example.org"}}, 201),
        ("GET", "/subscribers", "reader", "briefs_only", {}, 200),
        ("GET", "/subscribers/ann@example.org", "reader", "briefs_only", {}, 200),
        ("PATCH", "/subscribers/ann@example.org", "crm", "reader", {"json": {"name": "A"}}, 200),
        ("POST", "/subscribers/ann@example.org/unsubscribe", "crm", "reader", {}, 200),
        (
            "POST",
            "/subscribers/import",
            "crm",
            "reader",
            {"content": CSV, "headers": {"content-type": "text/csv"}},
            200,
        ),
        ("GET", "/topics", "reader", "briefs_only", {}, 200),
        ("GET", f"/reports/{SLUG}", "reader", "briefs_only", {}, 200),
    ]


def _is_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["type"] == "about:blank"


def test_every_route_with_each_kind_of_token(api: Api) -> None:
    anonymous = api.client()
    unknown = api.client("bm_" + "x" * 43)
    for method, path, right, wrong, request, status in _routes():
        for client in (anonymous, unknown):
            refused = client.request(method, path, **request)
            _is_problem(refused, 401)
            assert refused.headers["www-authenticate"] == "Bearer"
        forbidden = api.client(wrong).request(method, path, **request)
        _is_problem(forbidden, 403)
        assert "lacks the" in forbidden.json()["detail"]
        answered = api.client(right).request(method, path, **request)
        assert answered.status_code == status, (method, path, answered.text)
    # What the right calls did is what the read-only token now sees.
    reader = api.client("reader")
    assert reader.get(f"/briefs/{SLUG}").json()["status"] == "approved"
    assert reader.get("/sends/1").json()["status"] == "cancelled"
    assert reader.get("/schedule").json()["day"] == "mon"
    people = {p["email"]: p for p in reader.get("/subscribers").json()["subscribers"]}
    assert (people["ann@example.org"]["name"], people["ann@example.org"]["status"]) == (
        "A",
        "unsubscribed",
    )
    assert people["bob@example.org"]["topics"] == ["learning-design"]


def test_a_revoked_token_is_refused_at_once(api: Api) -> None:
    from briefmail.accounts.tokens import revoke_token
    from briefmail.db.session import session_scope

    reader = api.client("reader")
    assert reader.get("/topics").status_code == 200
    with session_scope() as session:
        revoke_token(session, "reader", now=clock.now())
    refused = reader.get("/topics")
    _is_problem(refused, 401)
    assert refused.json()["detail"] == "unknown or revoked token"


def test_the_audit_log_names_the_token_and_the_client(api: Api) -> None:
    from briefmail.accounts.audit import list_entries
    from briefmail.db.session import session_scope

    created = api.client("editor").post(
        "/briefs", content=EXAMPLE_BRIEF.read_bytes(), headers=MARKDOWN
    )
    assert created.status_code == 201
    with session_scope() as session:
        (entry,) = list_entries(session)
        assert (entry.actor_kind, entry.actor, entry.action, entry.target, entry.source) == (
            "token",
            "editor",
            "brief.import",
            SLUG,
            "127.0.0.1",
        )
