"""The console over real HTTP: sessions, CSRF, roles, throttling, headers, refusals.

Each test runs on SQLite and PostgreSQL (`db_url`) against the real app under uvicorn.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from briefmail import clock
from briefmail.accounts.users import set_role
from briefmail.briefs.store import approve_brief, get_brief, import_brief
from briefmail.db.models import AuditEntry, Brief, Send, Subscriber
from briefmail.db.session import session_scope
from tests.conftest import EXAMPLE_BRIEF
from tests.console.helpers import PASSWORD, PEOPLE, csrf, sign_in_form, signed_in
from tests.web.server import LiveServer

Start = Callable[..., LiveServer]


def stored_brief(approved: bool = False) -> str:
    with session_scope() as session:
        slug = import_brief(session, EXAMPLE_BRIEF).slug
        if approved:
            approve_brief(session, slug, "someone")
    return slug


def brief_status(slug: str) -> str:
    with session_scope() as session:
        return get_brief(session, slug).status


def count(model: type) -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_sign_in_sets_an_httponly_lax_cookie_secure_under_https(console_server: Start) -> None:
    plain = console_server()
    with httpx.Client(base_url=plain.url) as client:
        answer = sign_in_form(client, PEOPLE["editor"], PASSWORD)
    cookie = answer.headers["set-cookie"]
    assert answer.status_code == 303
    assert "briefmail_console=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie

    tls = console_server(public_url="https://brief.example.org")
    with httpx.Client(base_url=tls.url, headers={"origin": "https://brief.example.org"}) as c:
        page = c.get("/console/login")
        assert "Secure" in page.headers["set-cookie"]  # the sign-in form's own cookie
        token = page.text.split('name="login_token" value="')[1].split('"')[0]
        pre = page.cookies.get("briefmail_console_login") or ""
        answer = c.post(
            "/console/login",
            data={"login_token": token, "email": PEOPLE["editor"], "password": PASSWORD},
            headers={"cookie": f"briefmail_console_login={pre}"},
        )
    assert answer.status_code == 303
    assert "Secure" in answer.headers["set-cookie"]


@pytest.mark.parametrize(
    ("email", "password"),
    [("nobody@example.org", PASSWORD), (PEOPLE["editor"], "not the password at all")],
)
def test_any_wrong_sign_in_reads_wrong_email_or_password(
    console_server: Start, email: str, password: str
) -> None:
    server = console_server()
    with httpx.Client(base_url=server.url) as client:
        answer = sign_in_form(client, email, password)
        assert answer.status_code == 200
        assert "Wrong email or password" in answer.text
        assert "briefmail_console=" not in answer.headers.get("set-cookie", "")
        assert client.get("/console/").status_code == 303  # still signed out
    with session_scope() as session:
        refused = session.scalars(select(AuditEntry.action)).all()
    assert "session.sign-in-refused" in refused


def test_sign_in_is_throttled_even_for_the_right_password(console_server: Start) -> None:
    server = console_server(sign_in_max_failures=3)
    with httpx.Client(base_url=server.url) as client:
        for _ in range(3):
            assert "Wrong email" in sign_in_form(client, PEOPLE["admin"], "wrong guess 123").text
        answer = sign_in_form(client, PEOPLE["admin"], PASSWORD)
    assert answer.status_code == 429
    assert "Too many attempts" in answer.text
    assert int(answer.headers["retry-after"]) > 0
    assert "briefmail_console=" not in answer.headers.get("set-cookie", "")
    # Another account from elsewhere is not affected.
    assert signed_in(server.url, "editor").get("/console/").status_code == 200


def test_a_post_without_the_csrf_token_is_refused(console_server: Start) -> None:
    slug = stored_brief()
    server = console_server()
    client = signed_in(server.url, "admin")
    target = f"/console/briefs/{slug}/approve"
    assert client.post(target, data={}).status_code == 403
    assert client.post(target, data={"csrf_token": "0" * 64}).status_code == 403
    # Another person's token is no better.
    other = csrf(signed_in(server.url, "editor"))
    assert client.post(target, data={"csrf_token": other}).status_code == 403
    # From another site, even with the token.
    token = csrf(client)
    foreign = {"origin": "https://evil.example"}
    assert client.post(target, data={"csrf_token": token}, headers=foreign).status_code == 403
    assert brief_status(slug) == "draft"
    assert client.post(target, data={"csrf_token": token}).status_code == 303
    assert brief_status(slug) == "approved"
    # Signing out is a form too.
    assert client.post("/console/logout", data={}).status_code == 403
    # And the sign-in form: a post without its token does not even check the password.
    with httpx.Client(base_url=server.url) as fresh:
        answer = fresh.post("/console/login", data={"email": PEOPLE["admin"], "password": PASSWORD})
    assert answer.status_code == 403


def test_roles_are_checked_on_the_server_for_every_action(console_server: Start) -> None:
    slug = stored_brief()
    server = console_server()
    marketing = signed_in(server.url, "marketing")
    token = csrf(marketing)
    page = marketing.get(f"/console/briefs/{slug}")
    assert page.status_code == 200
    assert ">Approve</button>" not in page.text
    refused = marketing.post(f"/console/briefs/{slug}/approve", data={"csrf_token": token})
    assert refused.status_code == 403
    assert brief_status(slug) == "draft"
    assert marketing.get("/console/audit").status_code == 403

    editor = signed_in(server.url, "editor")
    token = csrf(editor)
    with session_scope() as session:
        approve_brief(session, slug, "someone")
    answer = editor.post(f"/console/briefs/{slug}/send", data={"csrf_token": token, "mode": "now"})
    assert answer.status_code == 403
    assert count(Send) == 0
    assert editor.get("/console/subscribers").status_code == 403
    add = {"csrf_token": token, "email": "new@example.org"}
    assert editor.post("/console/subscribers", data=add).status_code == 403
    assert count(Subscriber) == 0
    assert editor.get("/console/reports").status_code == 403

    admin = signed_in(server.url, "admin")
    assert admin.get("/console/audit").status_code == 200
    assert admin.get("/console/subscribers").status_code == 200

    with httpx.Client(base_url=server.url) as anonymous:
        assert anonymous.get("/console/briefs").headers["location"].startswith("/console/login")
        assert anonymous.post(f"/console/briefs/{slug}/send", data={}).status_code == 403


def test_a_session_ends_after_the_idle_time(console_server: Start) -> None:
    start = clock.now()
    clock.set_now(start)
    server = console_server(console_idle_minutes=30)
    client = signed_in(server.url, "editor")
    clock.set_now(start + timedelta(minutes=29))
    assert client.get("/console/briefs").status_code == 200  # activity keeps it alive
    clock.set_now(start + timedelta(minutes=58))
    assert client.get("/console/briefs").status_code == 200
    clock.set_now(start + timedelta(minutes=89))
    answer = client.get("/console/briefs")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=/console/briefs"
    clock.set_now(start + timedelta(minutes=90))
    assert client.get("/console/briefs").status_code == 303  # ended for good


def test_sign_out_and_a_role_change_end_the_session(console_server: Start) -> None:
    server = console_server()
    client = signed_in(server.url, "editor")
    cookie = client.cookies["briefmail_console"]
    answer = client.post("/console/logout", data={"csrf_token": csrf(client)})
    assert answer.headers["location"] == "/console/login?done=signed-out"
    with httpx.Client(base_url=server.url, cookies={"briefmail_console": cookie}) as replay:
        assert replay.get("/console/").status_code == 303

    marketing = signed_in(server.url, "marketing")
    assert marketing.get("/console/subscribers").status_code == 200
    with session_scope() as session:
        set_role(session, PEOPLE["marketing"], "editor", now=clock.now())
    assert marketing.get("/console/subscribers").status_code == 303
    again = signed_in(server.url, "marketing")  # signs in with the new role
    assert again.get("/console/subscribers").status_code == 403


def test_pages_carry_a_strict_policy_and_the_preview_may_be_framed_by_us(
    console_server: Start,
) -> None:
    slug = stored_brief()
    server = console_server()
    client = signed_in(server.url, "editor")
    page = client.get(f"/console/briefs/{slug}")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text
    assert " on" + "click=" not in page.text
    assert 'title="Desktop preview"' in page.text
    assert 'title="Phone preview"' in page.text
    preview = client.get(f"/console/briefs/{slug}/preview.html")
    assert "frame-ancestors 'self'" in preview.headers["content-security-policy"]
    assert preview.headers["x-frame-options"] == "SAMEORIGIN"
    assert "Clinician-Educators" in preview.text
    htmx = client.get("/console/static/htmx.min.js")
    assert htmx.status_code == 200
    assert "htmx" in htmx.text


def test_a_bad_brief_lists_every_problem_and_stores_nothing(console_server: Start) -> None:
    server = console_server()
    client = signed_in(server.url, "editor")
    text = EXAMPLE_BRIEF.read_text(encoding="utf-8")
    bad = text.replace("title: Clinician", "titel: Clinician").replace(
        "url: https://www.facultyfeed", "url: ftp://www.facultyfeed"
    )
    files = {"brief": ("bad.md", bad.encode(), "text/markdown")}
    answer = client.post("/console/briefs", data={"csrf_token": csrf(client)}, files=files)
    assert answer.status_code == 422
    assert "4: titel: unknown key" in answer.text
    assert ": sources[1].url: " in answer.text
    assert ": title: " in answer.text
    assert count(Brief) == 0


def test_a_csv_import_reports_bad_rows_by_line(console_server: Start) -> None:
    server = console_server()
    client = signed_in(server.url, "marketing")
    body = "email,name,topics\nann@example.org,Ann,Learning design\nnot an address,Bob,\n"
    files = {"file": ("people.csv", body.encode(), "text/csv")}
    answer = client.post(
        "/console/subscribers/import", data={"csrf_token": csrf(client)}, files=files
    )
    assert answer.status_code == 200
    assert "1 added" in answer.text
    assert "line 3: email: contains spaces" in answer.text
    assert count(Subscriber) == 1
    export = client.get("/console/subscribers/export.csv")
    assert export.headers["content-type"].startswith("text/csv")
    assert "ann@example.org,Ann,learning-design,active" in export.text
    with session_scope() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
    assert {"subscribers.import", "subscribers.export"} <= set(actions)


def test_next_after_sign_in_stays_in_the_console(console_server: Start) -> None:
    server = console_server()
    with httpx.Client(base_url=server.url) as client:
        page = client.get("/console/login", params={"next": "https://evil.example/x"})
        assert 'name="next" value="/console/"' in page.text
        page = client.get("/console/login", params={"next": "/console/sends"})
        assert 'name="next" value="/console/sends"' in page.text


def test_unknown_things_are_a_404_page_not_a_server_error(console_server: Start) -> None:
    server = console_server()
    client = signed_in(server.url, "admin")
    for path, words in [
        ("/console/briefs/no-such-brief", "no brief &#39;no-such-brief&#39;"),
        ("/console/briefs/no-such-brief/preview.html", "no brief &#39;no-such-brief&#39;"),
        ("/console/reports/no-such-brief", "no brief &#39;no-such-brief&#39;"),
        ("/console/sends/999", "no send 999"),
        ("/console/sends/999/progress", "no send 999"),
    ]:
        answer = client.get(path)
        assert (answer.status_code, path) == (404, path)
        assert words in answer.text
        assert 'href="/console/"' in answer.text  # the way back
    # An id past what the database holds is bad input, not a crash.
    assert client.get("/console/sends/99999999999999999999999").status_code == 400


def test_every_post_route_checks_the_csrf_token_and_the_role(console_server: Start) -> None:
    """Found from the app's routes, so a new action without `guard` fails here."""
    from starlette.routing import Route

    from briefmail.config import get_settings
    from briefmail.console.app import console_app
    from briefmail.db.session import session_factory

    server = console_server()
    app = console_app(get_settings(), session_factory(get_settings().database_url))
    values = {"slug": "no-such-brief", "send_id": "1", "batch_id": "1"}
    posts = [
        "/console" + route.path.replace(":int", "").format(**values)
        for route in app.routes
        if isinstance(route, Route) and "POST" in (route.methods or ())
    ]
    assert len(posts) == 13
    people = {role: signed_in(server.url, role) for role in ("editor", "marketing", "admin")}
    tokens = {role: csrf(client) for role, client in people.items()}
    with session_scope() as session:
        before = session.scalars(select(AuditEntry.action)).all()
    for path in posts:
        if path in ("/console/login", "/console/logout"):
            continue
        assert people["admin"].post(path, data={}).status_code == 403, path
        with httpx.Client(base_url=server.url) as anonymous:
            assert anonymous.post(path, data={"csrf_token": tokens["admin"]}).status_code == 403
        refused = [
            role
            for role in ("editor", "marketing")
            if people[role].post(path, data={"csrf_token": tokens[role]}).status_code == 403
        ]
        assert refused, f"{path}: neither editor nor marketing is refused"
    with session_scope() as session:
        assert session.scalars(select(AuditEntry.action)).all() == before  # nothing was done


def test_a_page_polling_by_itself_is_not_activity(console_server: Start) -> None:
    """An open send page or dashboard polls a send's progress; the session must still end
    after the idle time without a person's request, and the poll then reloads the page
    (which goes to the sign-in page)."""
    from briefmail.sending import service

    slug = stored_brief(approved=True)
    start = clock.now()
    clock.set_now(start)
    with session_scope() as session:
        at = start + timedelta(days=7)
        send_id = service.request_send(session, slug, at=at, now=start, by="test").id
    server = console_server(console_idle_minutes=30)
    client = signed_in(server.url, "admin")
    poll = {"hx-request": "true"}
    for minutes in (10, 20, 29):
        clock.set_now(start + timedelta(minutes=minutes))
        answer = client.get(f"/console/sends/{send_id}/progress", headers=poll)
        assert answer.status_code == 200
        assert "scheduled" in answer.text
    clock.set_now(start + timedelta(minutes=31))
    ended = client.get(f"/console/sends/{send_id}/progress", headers=poll)
    assert ended.headers.get("hx-refresh") == "true"
    assert client.get("/console/").status_code == 303  # to the sign-in page


def test_the_sends_list_shows_live_progress_for_unfinished_sends(console_server: Start) -> None:
    from briefmail.sending import service

    slug = stored_brief(approved=True)
    now = clock.now()
    with session_scope() as session:
        week = timedelta(days=7)
        waiting_id = service.request_send(session, slug, at=now + week, now=now, by="t").id
        done_id = service.request_send(session, slug, at=now + 2 * week, now=now, by="t").id
        service.cancel_send(session, done_id, now=now)
    client = signed_in(console_server().url, "marketing")
    page = client.get("/console/sends").text
    assert f'hx-get="/console/sends/{waiting_id}/progress"' in page
    assert f'aria-label="Send {waiting_id}: 0 of' in page
    assert f"/console/sends/{done_id}/progress" not in page
