"""Forbidden characters in briefs: every one found at once, at its line, nothing stored.

Single refusals are in test_refusals.py (through `briefmail preview`); these cover how
they combine with each other, with line endings and with storage.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from briefmail.briefs.errors import BriefValidationError
from briefmail.briefs.parse import load_brief, parse_brief
from tests.briefs.variants import edited, example_text, line_of, write
from tests.cli import run_cli

TITLE = "title: Clinician-Educators Want Coaching Programs, Not More Lectures"


def problems_of(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(BriefValidationError) as caught:
        parse_brief(text, "b.md")
    return [(p.line, p.field, p.message) for p in caught.value.problems]


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    text = edited(TITLE, 'title: "A \\e B"')
    text = edited("series: Clinician Learning Brief\n", "", text)
    text = edited("The clearest signal came", "The &#12;clearest\x0b signal came", text)
    text = edited("## What changed this week", "## What changed\x1b this week", text)
    found = problems_of(text)
    assert [(line, field) for line, field, _ in found] == [
        (2, "series"),  # a missing key is reported where the front matter starts
        (line_of(text, 'title: "A'), "title"),
        (line_of(text, "The &#12;"), "body"),  # the vertical tab typed there
        (line_of(text, "The &#12;"), "body"),  # the form feed the reference makes
        (line_of(text, "## What changed"), "body"),
    ]
    messages = " | ".join(message for _, _, message in found)
    for part in ("U+001B (escape)", "U+000B (vertical tab)", "makes U+000C", "is required"):
        assert part in messages


def test_one_problem_per_line_however_many_characters_it_holds() -> None:
    text = edited("## What changed this week", "## What\x0c changed\x0c this\x0c week")
    assert problems_of(text) == [
        (
            line_of(text, "## What\x0c"),
            "body",
            "contains U+000C (form feed), a control character, at column 8; remove it",
        )
    ]


def test_crlf_files_keep_working_and_report_the_right_lines(tmp_path: Path) -> None:
    text = edited("kicker: Insights", 'kicker: "In\\x07sights"')
    data = text.replace("\n", "\r\n").encode("utf-8")
    with pytest.raises(BriefValidationError) as caught:
        load_brief(write(tmp_path, data))
    assert [(p.line, p.field) for p in caught.value.problems] == [
        (line_of(text, "kicker:"), "kicker")
    ]


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_crlf_and_cr_files_render(
    ending: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, example_text().replace("\n", ending).encode("utf-8"))
    code, stdout, stderr = run_cli(["preview", str(path)], monkeypatch, capsys)
    assert (code, stderr) == (0, "")
    assert "Clinician-Educators Want Coaching Programs" in stdout


def test_tab_and_newline_escapes_are_spaces() -> None:
    brief = parse_brief(edited(TITLE, 'title: "Coaching\\tnot\\nlectures"'), "b.md")
    assert brief.title == "Coaching not lectures"


def test_a_line_separator_does_not_shift_the_lines_named() -> None:
    # PyYAML counts U+2028 as a line break; the lines named are the file's own.
    text = edited("kicker: Insights", 'kicker: "In\u2028sights"')
    text = edited("end: 2024-01-14", "end: 2024-01-01", text)
    assert problems_of(text)[0][:2] == (line_of(text, "end: 2024-01-01"), "coverage.end")


def test_problems_never_print_control_characters() -> None:
    text = edited("kicker: Insights\n", 'kicker: Insights\n"ti\\e[2Jtle": x\n')
    with pytest.raises(BriefValidationError) as caught:
        parse_brief(text, "b.md")
    shown = str(caught.value)
    assert "\x1b" not in shown
    assert "ti\\x1b[2Jtle: unknown key" in shown


def test_a_refused_brief_is_not_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, edited(TITLE, 'title: "A \\e B"'))
    code, _, stderr = run_cli(["brief", "import", str(path)], monkeypatch, capsys)
    assert code == 2
    assert f"{path}:{line_of(path.read_text(), 'title:')}: title: contains U+001B" in stderr
    assert "Traceback" not in stderr
    code, stdout, _ = run_cli(["brief", "list", "--json"], monkeypatch, capsys)
    assert (code, json.loads(stdout)) == (0, {"briefs": []})
