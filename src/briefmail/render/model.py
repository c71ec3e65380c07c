"""What rendering hands to the send pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LinkKind = Literal["source", "cta", "citation", "honeypot"]


@dataclass(frozen=True, slots=True)
class EmailLink:
    """A tracked destination; `link_id` is stable within one rendering (0 = honeypot)."""

    link_id: int
    url: str
    kind: LinkKind
    label: str
    source_number: int | None = None


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """One brief rendered once. `html` and `text` carry `%%bm:KEY%%` placeholders
    (see `briefmail.render.personalise`) for every per-recipient value."""

    subject: str
    preheader: str
    html: str
    text: str
    links: tuple[EmailLink, ...]
    lang: str = "en"
