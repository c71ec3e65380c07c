"""Attacks on briefmail, one test each, through real HTTP for the web ones.

The live-server fixture is the web tests' own (`tests/web/conftest.py`)."""

from __future__ import annotations

from tests.web.conftest import start_server

__all__ = ["start_server"]
