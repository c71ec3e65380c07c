"""The coverage week as readers see it: "Jan 8–14, 2024".

Month names are spelled out here rather than taken from the C library's locale, so
the email reads the same on every machine that renders it.
"""

from __future__ import annotations

from datetime import date

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _day(value: date) -> str:
    return f"{MONTHS[value.month - 1]} {value.day}"


def coverage_label(start: date, end: date) -> str:
    if start == end:
        return f"{_day(start)}, {start.year}"
    if start.year == end.year and start.month == end.month:
        return f"{_day(start)}–{end.day}, {start.year}"
    if start.year == end.year:
        return f"{_day(start)} – {_day(end)}, {start.year}"
    return f"{_day(start)}, {start.year} – {_day(end)}, {end.year}"
