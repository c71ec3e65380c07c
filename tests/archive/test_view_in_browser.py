"""The email's "View in browser" link: one URL for every recipient, and it opens the brief."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import httpx

from briefmail.render.webcopy import archive_url
from tests.archive.world import World, brief_text
from tests.render.html_doc import parse_html, squash


def view_links(path: Path) -> tuple[str, str, str]:
    """(the HTML part's link, the text part's link, the whole HTML part) of one email."""
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    html = message.get_body(("html",)).get_content()
    (link,) = [a for a in parse_html(html).iter("a") if squash(a.text) == "View in browser"]
    text = message.get_body(("plain",)).get_content()
    first, url = text.split("\n")[:2]
    assert first == "View in browser:"
    return link.attrs["href"], url, html


def test_view_in_browser_is_the_same_for_two_recipients(db_url, start_server, tmp_path) -> None:
    world = World(tmp_path, readers=2)
    slug = world.store(brief_text())
    first, second = (view_links(path) for path in world.emails(world.send(slug)))
    assert first[2] != second[2]  # two personal copies (their own tokens)...
    expected = archive_url("https://brief.example.org", slug)
    assert first[:2] == second[:2] == (expected, expected)  # ...with one shared link
    server = start_server()
    page = httpx.get(server.url + expected.removeprefix("https://brief.example.org"))
    assert page.status_code == 200
    assert "Clinician-Educators Want Coaching Programs, Not More Lectures" in page.text
