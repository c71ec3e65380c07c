"""Text widths estimated without a browser, so SVG labels can be cut to fit.

The report is a static file: nothing measures the text where it is shown, and the
reader's font is whatever `system-ui` is there. So widths are over-estimated on
purpose, per character, from the widest common sans-serif fonts (Verdana, DejaVu
Sans): a label cut to an estimated width fits in any of them, at the cost of cutting
a little early in narrower fonts.

Widths are in em (multiples of the font size).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

ELLIPSIS = "…"
_ZWJ = "\u200d"
# ASCII by class; Verdana and DejaVu widths rounded up (e.g. "i" .27, "r" .43, "a" .61).
_CLASSES: tuple[tuple[str, float], ...] = (
    (" ", 0.36),
    ("!',.:;ijlI|", 0.46),
    ('frt()[]-/\\"`J', 0.5),
    ("abcdeghknopqsuvxyz0123456789$*?_L", 0.66),
    ("FEPTZ{}", 0.72),
    ("ABCDGHKNOQRSUVXY&", 0.8),
    ("w#+<=>^~", 0.86),
    ("mM", 1.0),
    ("W@%", 1.1),
)
_ASCII = {char: width for chars, width in _CLASSES for char in chars}
_OTHER = 1.0  # a letter of another script (Cyrillic, Greek, Arabic, ...) or a symbol
_OTHER_CAPITAL = 1.15  # Ж and Щ are nearly 1.1 em in DejaVu Sans
_WIDE = 1.05  # CJK and other full-width characters
_EMOJI = 1.3  # colour emoji fonts advance about 1.25 em


def char_width(char: str) -> float:
    """The estimated advance of one character, in em (0 for marks that combine)."""
    if char in _ASCII:
        return _ASCII[char]
    category = unicodedata.category(char)
    if unicodedata.combining(char) or category in {"Mn", "Me", "Cf"}:
        return 0.0
    base = unicodedata.normalize("NFD", char)[0]
    if base in _ASCII:
        return _ASCII[base]  # é is as wide as e
    if unicodedata.east_asian_width(char) in {"W", "F"}:
        return _EMOJI if category == "So" else _WIDE
    if category == "So":
        return _EMOJI
    return _OTHER_CAPITAL if category in {"Lu", "Lt"} else _OTHER


def text_width(text: str, font_size: float) -> float:
    """The estimated width of `text` set at `font_size`, in the same units."""
    return font_size * sum(char_width(char) for char in text)


def fit(text: str, max_width: float, font_size: float) -> str:
    """`text` with runs of white space collapsed (as SVG shows it), cut to `max_width`.

    A cut text ends in an ellipsis, and is cut between characters as a reader sees
    them (an accent or a joined emoji stays with its letter).
    """
    text = " ".join(text.split())
    if text_width(text, font_size) <= max_width:
        return text
    room = max_width - text_width(ELLIPSIS, font_size)
    kept, used = [], 0.0
    for cluster in _clusters(text):
        used += text_width(cluster, font_size)
        if used > room:
            break
        kept.append(cluster)
    return "".join(kept).rstrip() + ELLIPSIS


def _clusters(text: str) -> Iterator[str]:
    """Characters with the marks, joiners and variation selectors that go with them."""
    cluster = ""
    for char in text:
        joins = cluster.endswith(_ZWJ) or char_width(char) == 0.0
        if cluster and not joins:
            yield cluster
            cluster = ""
        cluster += char
    if cluster:
        yield cluster
