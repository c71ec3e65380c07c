"""The archive in `briefmail web`, over real HTTP: pages, feed, 404s, caching."""

from __future__ import annotations

import email
import email.policy
import re
import time
from pathlib import Path

import feedparser
import httpx
from sqlalchemy import select

from briefmail.config import get_settings
from briefmail.db.models import SignupRequest, Subscriber
from briefmail.db.session import session_scope
from briefmail.tracking.tokens import Purpose, subscriber_token
from tests.archive.atom import atom_problems
from tests.archive.world import World, brief_text
from tests.cli import run_process
from tests.render.html_doc import parse_html, squash

SOURCES = (
    "https://www.facultyfeed.example.org/episodes/dean-bumpous-interviews-us",
    "https://www.youtube.com/watch?v=ki-educator-question-34",
)
CTA = "https://www.chatcme.example.com/demo"
TITLE = "Clinician-Educators Want Coaching Programs, Not More Lectures"


def three_briefs(tmp_path: Path) -> tuple[World, str, str, str]:
    """A brief that went out, one only proofed, one still a draft."""
    world = World(tmp_path)
    sent = world.store(brief_text())
    proofed = world.store(brief_text("Proofed Only", "2024-01-22"), approve=False)
    world.proof(proofed)
    draft = world.store(brief_text("Draft Only", "2024-01-29"), approve=False)
    world.send(sent)
    return world, sent, proofed, draft


TOKEN = re.compile(r"https://brief\.example\.org/(?:c|u|preferences)/([A-Za-z0-9._~-]+)")


def personal_tokens(world: World, send_id: int) -> set[str]:
    """Every signed token in the readers' emails (headers, text and HTML parts)."""
    found: set[str] = set()
    for path in world.emails(send_id):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        parts = [str(message["List-Unsubscribe"])]
        parts += [message.get_body((kind,)).get_content() for kind in ("plain", "html")]
        found |= {token for part in parts for token in TOKEN.findall(part)}
    assert len(found) > 2 * len(world.readers)  # the check below has something to find
    assert min(len(token) for token in found) > 16
    return found


def test_index_page_and_feed_list_only_what_went_out(db_url, start_server, tmp_path) -> None:
    _, sent, proofed, draft = three_briefs(tmp_path)
    server = start_server()
    index = httpx.get(f"{server.url}/archive")
    assert index.status_code == 200
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert index.headers["cache-control"] == "public, max-age=60"
    assert "set-cookie" not in index.headers
    doc = parse_html(index.text)
    text = squash(doc.text)
    for shown in (TITLE, "Jan 8–14, 2024", "Learning design", "Workflow-based education"):
        assert shown in text
    assert "Clinician-educator support is moving from informal mentorship" in text
    links = {a.attrs["href"] for a in doc.iter("a")}
    assert f"/archive/{sent}" in links
    assert "/archive?topic=learning-design" in links
    assert "Proofed Only" not in index.text
    assert "Draft Only" not in index.text
    (form,) = doc.iter("form")
    assert (form.attrs["method"], form.attrs["action"]) == ("post", "/subscribe")
    assert {i.attrs["name"] for i in form.iter("input")} == {"email", "website"}

    assert TITLE in httpx.get(f"{server.url}/archive?topic=learning-design").text
    for missing in ("?topic=no-such-topic", "?page=2", "?page=0", "?page=x", "?page=99999999"):
        assert httpx.get(f"{server.url}/archive{missing}").status_code == 404, missing
    for slug in (proofed, draft, "no-such-brief"):
        answer = httpx.get(f"{server.url}/archive/{slug}")
        assert answer.status_code == 404
        assert "No brief here" in answer.text

    feed = httpx.get(f"{server.url}/feed.xml")
    assert feed.status_code == 200
    assert feed.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert atom_problems(feed.content) == []
    parsed = feedparser.parse(feed.content)
    assert not parsed.bozo
    assert [(e.title, e.link) for e in parsed.entries] == [
        (TITLE, f"https://brief.example.org/archive/{sent}")
    ]


def test_brief_page_has_the_brief_and_nothing_personal(db_url, start_server, tmp_path) -> None:
    world = World(tmp_path)
    slug = world.store(brief_text())
    send_id = world.send(slug)
    server = start_server()
    page = httpx.get(f"{server.url}/archive/{slug}")
    assert page.status_code == 200
    doc = parse_html(page.text)
    assert [squash(h.text) for h in doc.iter("h1")] == [TITLE]
    hrefs = {squash(a.text): a.attrs["href"] for a in doc.iter("a")}
    # Sources and the call to action go straight to their destinations.
    buttons = [a.attrs["href"] for a in doc.iter("a") if squash(a.text).startswith("Open source")]
    assert buttons == list(SOURCES)
    assert hrefs["Request a demo"] == CTA
    assert hrefs["Faculty Feed"] == SOURCES[0]  # a citation in the body
    assert "Dean Bumpous Interviews Us: The Tables are Turned" in squash(doc.text)
    assert "Turn learner questions into outcomes data" in squash(doc.text)
    meta = {
        m.attrs.get("property") or m.attrs.get("name"): m.attrs["content"]
        for m in doc.iter("meta")
        if "content" in m.attrs
    }
    assert meta["og:title"] == TITLE
    assert meta["og:description"].startswith("Clinician-educator support is moving")
    canonical = [
        link.attrs["href"] for link in doc.iter("link") if link.attrs.get("rel") == "canonical"
    ]
    assert canonical == [f"https://brief.example.org/archive/{slug}"]
    assert [f.attrs["action"] for f in doc.iter("form")] == ["/subscribe"]

    # Nothing that names a reader: no personal links, no token, no placeholder.
    for personal in ("/u/", "/preferences/", "/c/", "%%bm:", "Unsubscribe", "Manage preferences"):
        assert personal not in page.text, personal
    keys = get_settings().signing_keys()
    tokens = personal_tokens(world, send_id)
    for reader in world.readers:
        for purpose in (Purpose.UNSUBSCRIBE, Purpose.PREFERENCES):
            tokens.add(subscriber_token(keys, purpose, reader, _secret(reader)))
    assert not [token for token in tokens if token in page.text]


def _secret(subscriber_id: int) -> str:
    with session_scope() as session:
        return session.get_one(Subscriber, subscriber_id).secret


def test_revalidation_head_and_the_stylesheet(start_server, tmp_path) -> None:
    world = World(tmp_path)
    slug = world.store(brief_text())
    world.send(slug)
    server = start_server()
    first = httpx.get(f"{server.url}/archive/{slug}")
    etag = first.headers["etag"]
    again = httpx.get(f"{server.url}/archive/{slug}", headers={"if-none-match": f'W/{etag}, "x"'})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    head = httpx.head(f"{server.url}/archive/{slug}")
    assert (head.status_code, head.content) == (200, b"")
    (sheet,) = re.findall(r'<link rel="stylesheet" href="([^"]+)">', first.text)
    css = httpx.get(server.url + sheet)
    assert css.status_code == 200
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "--accent: #0b5cad;" in css.text  # the email's colours
    assert (
        httpx.get(f"{server.url}/archive/archive.css?v=old").headers["cache-control"] == "no-cache"
    )


def test_a_brief_sent_by_another_process_appears_within_seconds(
    db_url, start_server, tmp_path
) -> None:
    world = World(tmp_path)
    slug = world.store(brief_text())
    server = start_server(archive_refresh_seconds=0.2)
    assert "No brief has gone out yet" in httpx.get(f"{server.url}/archive").text
    assert httpx.get(f"{server.url}/archive/{slug}").status_code == 404
    sent = run_process(["send", slug, "--now"])  # the CLI's own process sends it
    assert sent.returncode == 0, sent.stderr
    deadline = time.monotonic() + 15
    while httpx.get(f"{server.url}/archive/{slug}").status_code != 200:
        assert time.monotonic() < deadline, "the archive never saw the brief go out"
        time.sleep(0.1)
    assert TITLE in httpx.get(f"{server.url}/archive").text
    assert f"/archive/{slug}" in httpx.get(f"{server.url}/feed.xml").text
    sent_to = list((tmp_path / "outbox").rglob("*.eml"))
    assert len(sent_to) == len(world.readers)  # a real send, by the other process


def test_the_sign_up_form_is_the_double_opt_in(db_url, start_server, tmp_path) -> None:
    world = World(tmp_path)
    slug = world.store(brief_text())
    world.send(slug)
    server = start_server()
    page = parse_html(httpx.get(f"{server.url}/archive/{slug}").text)
    (form,) = page.iter("form")
    fields = {i.attrs["name"]: "" for i in form.iter("input")} | {"email": "Forwarded@Example.org"}
    answer = httpx.post(server.url + form.attrs["action"], data=fields)
    assert answer.status_code == 200
    assert "Check your inbox" in answer.text
    with session_scope() as session:
        # A request kept apart, no subscriber, until the emailed link is followed.
        request = session.scalars(
            select(SignupRequest).where(SignupRequest.email_key == "forwarded@example.org")
        ).one()
        assert request.mails == 1  # the confirmation went out
        new = select(Subscriber).where(Subscriber.email_key == "forwarded@example.org")
        assert session.scalars(new).all() == []
