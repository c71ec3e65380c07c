"""`briefmail briefs` commands (to be written)."""

from __future__ import annotations

from briefmail.cli import app  # noqa: F401
