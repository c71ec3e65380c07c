"""The archive in real Chromium at 375 px, under the strict Content-Security-Policy the
app is meant to send: it scrolls no sideways, its text is readable, its style applies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Error, Page, Route

from tests.archive.world import World, brief_text
from tests.browser import chromium

pytestmark = pytest.mark.browser

# No inline script or style, nothing framed, nothing from elsewhere.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
WIDTH = "document.scrollingElement.scrollWidth"
# The smallest computed font size of any element that shows text itself.
SMALLEST_TEXT = """
Math.min(...[...document.body.querySelectorAll('*')]
  .filter(e => e.offsetParent !== null && e.getClientRects().length &&
    [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
  .map(e => parseFloat(getComputedStyle(e).fontSize)))
"""
BODY_TEXT = """
Math.min(...[...document.querySelectorAll('.prose p')]
  .map(p => parseFloat(getComputedStyle(p).fontSize)))
"""


def _with_csp(route: Route) -> None:
    response = route.fetch()
    route.fulfill(response=response, headers={**response.headers, "content-security-policy": CSP})


@contextmanager
def phone(base_url: str) -> Iterator[tuple[Page, list[str]]]:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 375, "height": 800})
        complaints: list[str] = []
        page.on("console", lambda message: complaints.append(message.text))
        page.route(f"{base_url}/**", _with_csp)
        yield page, complaints
        page.close()


def test_archive_pages_read_well_on_a_phone(start_server, tmp_path) -> None:
    world = World(tmp_path)
    long_word = "averyveryverylongunbrokenwordthatmustwrap" * 3
    slug = world.store(brief_text(f"A Long Title With {long_word}"))
    world.send(slug)
    server = start_server()
    with phone(server.url) as (page, complaints):
        for path in (f"/archive/{slug}", "/archive"):
            page.goto(server.url + path)
            assert page.evaluate("window.innerWidth") == 375
            assert page.evaluate(WIDTH) <= 375, path
            # The stylesheet applied under the policy: the email's page colour.
            background = "getComputedStyle(document.body).backgroundColor"
            assert page.evaluate(background) == "rgb(238, 241, 244)"
            assert page.evaluate(SMALLEST_TEXT) >= 12, path
            assert page.locator("#signup-email").bounding_box()["width"] > 150
        page.goto(f"{server.url}/archive/{slug}")
        assert page.evaluate(BODY_TEXT) >= 16
        assert page.locator("h1").bounding_box()["x"] >= 12  # a margin, not the screen edge
        assert complaints == []  # nothing refused by the policy


def test_the_checks_see_wide_pages_small_text_and_the_policy(
    db_url, start_server, tmp_path
) -> None:
    # Guards the test above: the policy is in force, and overflow and tiny text are caught.
    World(tmp_path)
    server = start_server()
    with phone(server.url) as (page, complaints):
        page.goto(server.url + "/archive")
        with pytest.raises(Error, match="Content Security Policy"):
            page.add_style_tag(content="body { background: red; }")
        assert complaints  # ...and the refusal was reported
        page.evaluate(
            """() => {
                const tiny = document.createElement('div');
                tiny.textContent = 'tiny';
                tiny.style.width = '900px';
                tiny.style.fontSize = '8px';
                document.querySelector('main').append(tiny);
            }"""
        )
        assert page.evaluate(WIDTH) > 375
        assert page.evaluate(SMALLEST_TEXT) == 8
