"""The HTML report in real headless Chromium: chart labels overlap no bar and no label.

Boxes are the elements' own (`getBoundingClientRect`), so a label drawn over a bar,
another label, a count, or out of the chart is seen whatever font Chromium picked.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from briefmail.reports.charts import FONT_SIZE
from briefmail.reports.html_report import report_html
from briefmail.reports.text_width import text_width
from tests.browser import chromium
from tests.reports.long_titles import long_titles_report

pytestmark = pytest.mark.browser

BOXES_SCRIPT = """
() => {
  const svg = [...document.querySelectorAll('svg.bars, svg.bars-narrow')]
    .find(s => s.getBoundingClientRect().width > 0);
  const box = el => { const r = el.getBoundingClientRect();
    return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; };
  const all = sel => [...svg.querySelectorAll(sel)].map(el => ({...box(el),
    text: el.textContent}));
  return {svg: box(svg), chart: svg.getAttribute('class'),
          scale: svg.getBoundingClientRect().width / svg.viewBox.baseVal.width,
          labels: all('.bar-label'), bars: all('.bar'),
          counts: all('.bar-count'),
          titles: [...svg.querySelectorAll('.bar-row > title')].map(t => t.textContent)};
}
"""
WIDTHS_SCRIPT = """
([font, chars]) => {
  const c = document.createElement('canvas').getContext('2d');
  c.font = '100px ' + font;
  return chars.map(ch => c.measureText(ch).width / 100);
}
"""


def chart_boxes(page: Page, html: str) -> dict[str, Any]:
    page.set_content(html, wait_until="load")
    boxes: dict[str, Any] = page.evaluate(BOXES_SCRIPT)
    return boxes


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    """Boxes sharing some area (touching edges is not overlapping)."""
    return (
        min(a["right"], b["right"]) - max(a["left"], b["left"]) > 0.01
        and min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > 0.01
    )


def collisions(boxes: dict[str, Any]) -> list[tuple[str, str]]:
    """Every pair of a label and a bar, label, or count whose boxes overlap."""
    labels, counts = boxes["labels"], boxes["counts"]
    bars = [b for b in boxes["bars"] if b["right"] > b["left"]]  # a zero bar draws nothing
    found = [
        (label["text"], other["text"] or "bar")
        for i, label in enumerate(labels)
        for other in [*bars, *labels[i + 1 :], *counts]
        if overlaps(label, other)
    ]
    found += [(count["text"], "bar") for count in counts for bar in bars if overlaps(count, bar)]
    return found


@pytest.mark.parametrize(
    ("viewport_width", "chart"), [(1200, "bars"), (375, "bars-narrow"), (320, "bars-narrow")]
)
def test_long_source_titles_overlap_nothing_and_are_readable(
    viewport_width: int, chart: str
) -> None:
    report = long_titles_report()
    html = report_html(report)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": viewport_width, "height": 900})
        boxes = chart_boxes(page, html)
        line_scale = page.evaluate(
            "[...document.querySelectorAll('svg.line, svg.line-narrow')]"
            ".map(s => s.getBoundingClientRect().width / s.viewBox.baseVal.width)"
            ".find(scale => scale > 0)"
        )
        page.close()
    assert boxes["chart"] == chart  # the phone layout on phones
    assert FONT_SIZE * boxes["scale"] >= 11  # pixels: no shrunk-to-fit 6-pixel labels
    assert 11 * line_scale >= 10  # the time axis's 11-unit stamps
    assert len(boxes["labels"]) == len(report.links)
    assert collisions(boxes) == []
    svg = boxes["svg"]
    for label in [*boxes["labels"], *boxes["counts"]]:
        assert svg["left"] <= label["left"]
        assert label["right"] <= svg["right"] + 0.01
    assert any(label["text"].endswith("…") for label in boxes["labels"])
    assert boxes["titles"][0] == " ".join(f"source: {report.links[0].label}".split())


def test_the_check_sees_a_label_over_a_bar() -> None:
    # Guards the test above: the whole title, not cut, does run into the bars.
    report = long_titles_report()
    html = report_html(report)
    first = " ".join(f"source: {report.links[0].label}".split())
    cut = html.split('class="bar-label"', 1)[1].split(">", 1)[1].split("</text>", 1)[0]
    whole = html.replace(f">{cut}</text>", f">{first}</text>", 1)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        boxes = chart_boxes(page, whole)
        page.close()
    assert (first, "bar") in collisions(boxes)


def test_estimated_widths_are_at_least_the_rendered_ones() -> None:
    # The estimate stands in for the reader's font: it must not be narrower than what
    # Chromium draws, in the report's own font and the common sans-serif ones here.
    chars = [chr(c) for c in range(0x20, 0x7F)] + list("éÅñ…—ЖЩшщюΩπ")
    with chromium() as browser:
        page = browser.new_page()
        page.set_content(report_html(long_titles_report()), wait_until="load")
        font = page.evaluate("getComputedStyle(document.querySelector('svg text')).fontFamily")
        for family in [font, "sans-serif", "DejaVu Sans", "Liberation Sans"]:
            rendered = page.evaluate(WIDTHS_SCRIPT, [family, chars])
            wider = [
                (char, width)
                for char, width in zip(chars, rendered, strict=True)
                if width > text_width(char, 1) + 1e-6
            ]
            assert wider == [], family
        page.close()
