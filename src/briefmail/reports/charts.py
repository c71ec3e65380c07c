"""Inline SVG charts: drawn here, so the HTML report needs nothing from the network.

Every text that reaches the SVG is escaped; each chart has a title for screen readers,
and the page repeats the numbers in a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from briefmail.reports.figures import LinkFigures, TimePoint

HUMAN = "#0b5563"
FILTERED = "#c9d3dc"


def link_bars(links: Sequence[LinkFigures], *, width: int = 640) -> str:
    """Horizontal bars, one per link: human clicks, then filtered ones stacked after."""
    row, label_w, top = 34, 220, 8
    height = top + row * max(len(links), 1) + 8
    peak = max((lk.human_clicks + lk.filtered_clicks for lk in links), default=0) or 1
    span = width - label_w - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="bars-title">',
        '<title id="bars-title">Clicks per link: human and filtered</title>',
    ]
    for i, link in enumerate(links):
        y = top + i * row
        name = _short(link.label or link.url, 32)
        human_w = span * link.human_clicks / peak
        filtered_w = span * link.filtered_clicks / peak
        parts += [
            f'<text x="0" y="{y + 17}" font-size="12" fill="#1b2733">'
            f"{escape(link.kind)}: {escape(name)}</text>",
            f'<rect x="{label_w}" y="{y + 4}" width="{human_w:.1f}" height="18" fill="{HUMAN}"/>',
            f'<rect x="{label_w + human_w:.1f}" y="{y + 4}" width="{filtered_w:.1f}" '
            f'height="18" fill="{FILTERED}"/>',
            f'<text x="{label_w + human_w + filtered_w + 6:.1f}" y="{y + 17}" font-size="12" '
            f'fill="#1b2733">{link.human_clicks} / {link.filtered_clicks}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def clicks_over_time(points: Sequence[TimePoint], *, width: int = 640, height: int = 220) -> str:
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
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="line-title">',
        '<title id="line-title">Clicks over time: human (solid) and filtered (dashed)</title>',
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


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
