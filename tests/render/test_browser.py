"""The seed brief in a real browser: no sideways scrolling on a 375 px phone."""

from __future__ import annotations

import pytest

from briefmail.briefs.parse import parse_brief
from briefmail.render.email import render_email
from briefmail.render.model import RenderedEmail
from tests.briefs.variants import edited
from tests.browser import chromium
from tests.render.conftest import PUBLIC

pytestmark = pytest.mark.browser

WIDTH_SCRIPT = "document.scrollingElement.scrollWidth"
CARD_SCRIPT = """
Math.max(...[...document.querySelectorAll('div')]
  .filter(d => d.style.maxWidth === '600px')
  .map(d => d.getBoundingClientRect().width))
"""


def test_seed_brief_does_not_scroll_sideways_on_a_phone(rendered: RenderedEmail) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 375, "height": 800})
        page.set_content(rendered.html, wait_until="load")
        assert page.evaluate("window.innerWidth") == 375
        assert page.evaluate(WIDTH_SCRIPT) <= 375
        # The one-column layout really is one column: the source cards fill the width.
        button_lefts = page.eval_on_selector_all(
            "a",
            "els => els.filter(a => a.textContent.trim() === 'Open source')"
            ".map(a => a.getBoundingClientRect().left)",
        )
        assert len(button_lefts) == 2
        assert len(set(button_lefts)) == 1
        # ...and on a desktop the email stops at 600 px.
        page.set_viewport_size({"width": 1200, "height": 800})
        assert page.evaluate(CARD_SCRIPT) == 600
        page.close()


def test_the_width_check_sees_an_overflowing_element(rendered: RenderedEmail) -> None:
    # Guards the test above: an over-wide element does make the page scroll sideways.
    wide = rendered.html.replace("</body>", '<div style="width:900px">x</div></body>')
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 375, "height": 800})
        page.set_content(wide, wait_until="load")
        assert page.evaluate(WIDTH_SCRIPT) > 375
        page.close()


def test_long_unbroken_words_wrap_on_a_phone() -> None:
    word = "https://example.org/" + "averyveryverylongpathsegment" * 6
    text = edited("faculty development occurred.", f"faculty development occurred. {word}")
    text = edited("outlet: Faculty Feed", f"outlet: {word[8:]}", text)
    brief = parse_brief(text, "long.md")
    html = render_email(brief, postal_address="Address", public_url=PUBLIC).html
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 375, "height": 800})
        page.set_content(html, wait_until="load")
        assert page.evaluate(WIDTH_SCRIPT) <= 375
        page.close()
