"""Inline SVG charts: drawn here, so the HTML report needs nothing from the network.

Every text that reaches the SVG is escaped; each chart has a title for screen readers,
and the page repeats the numbers in a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from briefmail.reports.figures import LinkFigures, TimePoint
from briefmail.reports.text_width import fit, text_width

HUMAN = "#0b5563"
FILTERED = "#c9d3dc"
FONT_SIZE = 12
GAP = 12  # between a label and its bar, and (half of it) a bar and its count
LABEL_SHARE = 0.4  # of the chart's width, at most, for the labels


def link_bars(
    links: Sequence[LinkFigures], *, width: int = 640, stacked: bool = False, key: str = "bars"
) -> str:
    """Horizontal bars, one per link: human clicks, then filtered ones stacked after.

    Each row is a group whose `<title>` names the link in full (a tooltip); the label
    beside the bar is cut with an ellipsis to the label column, whose width is the
    widest label's or `LABEL_SHARE` of the chart, so a long title never runs into the
    bars. Counts get the room their widest text needs after the longest bar.
    `stacked` puts each label on its own line above its bar, the full width of a
    narrow chart: the page's phone layout, where a label column would leave the bars
    no room. `key` names the chart's class and title id (two charts share a page).
    """
    row = 44 if stacked else 34
    top = 8
    height = top + row * max(len(links), 1) + 8
    # White space collapsed, as SVG shows it; the tooltips carry these in full.
    names = [" ".join(f"{link.kind}: {link.label or link.url}".split()) for link in links]
    counts = [f"{link.human_clicks} / {link.filtered_clicks}" for link in links]
    count_w = max((text_width(c, FONT_SIZE) for c in counts), default=0.0)
    if stacked:
        label_w, bar_x, label_dy, bar_dy = float(width), 0.0, 13, 18
    else:
        label_w = min(
            max((text_width(name, FONT_SIZE) for name in names), default=0.0),
            width * LABEL_SHARE,
        )
        bar_x, label_dy, bar_dy = label_w + GAP, 17, 4
    span = max(width - bar_x - GAP - count_w, 0.0)
    peak = max((lk.human_clicks + lk.filtered_clicks for lk in links), default=0) or 1
    parts = [
        f'<svg class="{key}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{key}-title">',
        f'<title id="{key}-title">Clicks per link: human and filtered</title>',
    ]
    for i, (link, name, count) in enumerate(zip(links, names, counts, strict=True)):
        y = top + i * row
        human_w = span * link.human_clicks / peak
        filtered_w = span * link.filtered_clicks / peak
        bar_y = y + bar_dy
        parts += [
            f'<g class="bar-row"><title>{escape(name)}</title>',
            f'<text class="bar-label" x="0" y="{y + label_dy}" font-size="{FONT_SIZE}" '
            f'fill="#1b2733">{escape(fit(name, label_w, FONT_SIZE))}</text>',
            f'<rect class="bar" x="{bar_x:.1f}" y="{bar_y}" width="{human_w:.1f}" height="18" '
            f'fill="{HUMAN}"/>',
            f'<rect class="bar" x="{bar_x + human_w:.1f}" y="{bar_y}" width="{filtered_w:.1f}" '
            f'height="18" fill="{FILTERED}"/>',
            f'<text class="bar-count" x="{bar_x + human_w + filtered_w + GAP / 2:.1f}" '
            f'y="{bar_y + 13}" font-size="{FONT_SIZE}" fill="#1b2733">{count}</text></g>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def clicks_over_time(
    points: Sequence[TimePoint], *, width: int = 640, height: int = 220, key: str = "line"
) -> str:
    """Two lines over time: human clicks (solid) and filtered clicks (dashed)."""
    left, right, top, bottom = 40, 10, 10, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((max(p.human, p.filtered) for p in points), default=0) or 1
    n = len(points)

    def xy(i: int, value: int) -> str:
        x = left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)
        y = top + plot_h - plot_h * value / peak
        return f"{x:.1f},{y:.1f}"

    parts = [
        f'<svg class="{key}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{key}-title">',
        f'<title id="{key}-title">Clicks over time: human (solid) and filtered (dashed)</title>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        'stroke="#8a99a8"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#8a99a8"/>',
        f'<text x="{left - 6}" y="{top + 10}" font-size="11" text-anchor="end">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" font-size="11" text-anchor="end">0</text>',
    ]
    if points:
        human = " ".join(xy(i, p.human) for i, p in enumerate(points))
        filtered = " ".join(xy(i, p.filtered) for i, p in enumerate(points))
        parts += [
            f'<polyline points="{filtered}" fill="none" stroke="#8a99a8" stroke-width="2" '
            'stroke-dasharray="5 4"/>',
            f'<polyline points="{human}" fill="none" stroke="{HUMAN}" stroke-width="2.5"/>',
            f'<text x="{left}" y="{height - 8}" font-size="11">{escape(_stamp(points[0]))}</text>',
            f'<text x="{width - right}" y="{height - 8}" font-size="11" text-anchor="end">'
            f"{escape(_stamp(points[-1]))}</text>",
        ]
    parts.append("</svg>")
    return "".join(parts)


def _stamp(point: TimePoint) -> str:
    return point.start.strftime("%Y-%m-%d %H:%M UTC")
