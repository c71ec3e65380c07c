"""`briefmail preview` warns when one recipient's values would not fit SendGrid's limits.

The warning is the editor's first notice: the same measure refuses the brief when a
send through SendGrid starts (tests/sending/test_sendgrid_fit.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from briefmail.config import get_settings
from tests.briefs.variants import with_sources, write
from tests.cli import run_cli
from tests.conftest import EXAMPLE_BRIEF
from tests.render.html_doc import squash

SOURCES_AT_LIMIT = 47  # 100 substitutions: see tests/sending/test_sendgrid_fit.py


def summary(
    brief: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> str:
    code, stdout, stderr = run_cli(["preview", str(brief)], monkeypatch, capsys)
    assert (code, stderr) == (0, "")  # a warning, not an error: the brief still renders
    return squash(stdout)


def test_the_example_shows_its_room_and_no_limit_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    flat = summary(EXAMPLE_BRIEF, monkeypatch, capsys)
    room = r"Per recipient 10 of 100 substitutions, \d{3} of 10,000 bytes \(SendGrid's limits\)"
    assert re.search(room, flat)
    assert "sendgrid-limits" not in flat


def test_too_many_links_are_warned_about_with_the_count_and_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    brief = write(tmp_path, with_sources(SOURCES_AT_LIMIT + 1))
    flat = summary(brief, monkeypatch, capsys)
    assert "Per recipient 102 of 100 substitutions" in flat
    assert (
        "sendgrid-limits: each recipient's copy needs 102 substitutions (SendGrid allows 100) "
        "for its 97 links: SendGrid would refuse every batch; remove at least 2 links "
        "(sources, citations or links in the text) or split the brief"
    ) in flat


def test_at_the_limit_there_is_no_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    brief = write(tmp_path, with_sources(SOURCES_AT_LIMIT))
    flat = summary(brief, monkeypatch, capsys)
    assert "Per recipient 100 of 100 substitutions" in flat
    assert "sendgrid-limits" not in flat


def test_a_long_public_url_is_warned_about_in_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BRIEFMAIL_PUBLIC_URL", "https://brief.example.org/" + "n" * 75)
    get_settings.cache_clear()
    brief = write(tmp_path, with_sources(40))  # 86 substitutions: the bytes are over
    flat = summary(brief, monkeypatch, capsys)
    assert "Per recipient 86 of 100 substitutions" in flat
    warning = flat[flat.index("sendgrid-limits: ") :]
    assert "bytes of substitutions and custom_args (SendGrid allows 10,000)" in warning
    assert "substitutions (SendGrid allows 100)" not in warning
