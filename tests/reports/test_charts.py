"""The clicks-per-link chart: labels cut to their column, full titles kept, all escaped."""

from __future__ import annotations

import re
from html import unescape

import pytest

from briefmail.reports.charts import FONT_SIZE, LABEL_SHARE, link_bars
from briefmail.reports.text_width import ELLIPSIS, fit, text_width
from tests.reports.long_titles import LONG_URL, long_titles_report

WIDTH = 640


def rows(svg: str) -> list[tuple[str, str, float]]:
    """(tooltip title, label text, label x) per bar row, unescaped."""
    found = re.findall(
        r'<g class="bar-row"><title>(.*?)</title><text class="bar-label" x="([\d.]+)"[^>]*>(.*?)'
        r"</text>",
        svg,
    )
    return [(unescape(title), unescape(label), float(x)) for title, x, label in found]


def test_long_labels_are_cut_to_the_label_column_and_kept_whole_in_a_tooltip() -> None:
    report = long_titles_report()
    svg = link_bars(report.links, width=WIDTH)
    got = rows(svg)
    assert len(got) == len(report.links)
    bar_x = min(float(x) for x in re.findall(r'<rect class="bar" x="([\d.]+)"', svg))
    for link, (title, label, x) in zip(report.links, got, strict=True):
        full = " ".join(f"{link.kind}: {link.label or link.url}".split())
        assert title == full
        assert x + text_width(label, FONT_SIZE) <= bar_x
        if label != full:
            assert label.endswith(ELLIPSIS)
            assert full.startswith(label.removesuffix(ELLIPSIS))
    assert bar_x <= WIDTH * LABEL_SHARE + 12
    assert got[6][1] == "source: Short"  # a short label is not cut
    assert got[5][0] == f"source: {LONG_URL}"  # no label: the URL names the link


def test_the_chart_escapes_every_title() -> None:
    svg = link_bars(long_titles_report().links, width=WIDTH)
    assert "<script>" not in svg
    assert "<b>" not in svg
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;" in svg


def test_short_labels_make_a_narrow_label_column() -> None:
    report = long_titles_report()
    short = [report.links[6]]  # "source: Short"
    svg = link_bars(short, width=WIDTH)
    bar_x = float(re.findall(r'<rect class="bar" x="([\d.]+)"', svg)[0])
    assert bar_x == pytest.approx(text_width("source: Short", FONT_SIZE) + 12, abs=0.1)


def test_counts_stay_inside_the_chart() -> None:
    svg = link_bars(long_titles_report().links, width=WIDTH)
    for x, text in re.findall(r'<text class="bar-count" x="([\d.]+)"[^>]*>(.*?)</text>', svg):
        assert float(x) + text_width(text, FONT_SIZE) <= WIDTH


def test_no_links_draws_an_empty_chart() -> None:
    svg = link_bars([], width=WIDTH)
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert "bar-row" not in svg


@pytest.mark.parametrize(
    ("text", "max_width", "expected"),
    [
        ("fits", 100, "fits"),
        ("  runs \n of\t space  ", 200, "runs of space"),
        ("abcdefghij", 6 * 0.66 * 10, "abcd…"),  # 4 letters and the 1 em ellipsis
        ("abc   defghij", 6 * 0.66 * 10, "abc…"),  # no space before the ellipsis
        ("", 0, ""),
    ],
)
def test_fit(text: str, max_width: float, expected: str) -> None:
    assert fit(text, max_width, 10) == expected


def test_fit_never_splits_an_accent_or_a_joined_emoji_from_its_character() -> None:
    decomposed = "cafe\u0301" * 10  # e + combining acute
    for width in range(5, 200, 3):
        cut = fit(decomposed, width, 10)
        assert not re.search("e(?!\u0301)", cut)  # every e keeps its accent
    family = "👩\u200d💻" * 10
    for width in range(10, 300, 7):
        cut = fit(family, width, 10).removesuffix("…")
        assert not cut.endswith("\u200d")
        assert cut.count("👩") == cut.count("💻")


def test_estimates_are_widest_for_wide_characters() -> None:
    assert text_width("W", 10) > text_width("n", 10) > text_width("i", 10) > 0
    assert text_width("漢", 10) >= 10
    assert text_width("😀", 10) > 12
    assert text_width("\u0301", 10) == 0
