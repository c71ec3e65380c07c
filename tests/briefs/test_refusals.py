"""Every refusal of the brief format, through the real `briefmail` entry point.

Each bad brief must exit 2 with `FILE:LINE: field: what is wrong` on stderr, no
traceback, and nothing written to --out.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.briefs.variants import edited, example_text, line_of, write
from tests.cli import run_cli

TITLE = "title: Clinician-Educators Want Coaching Programs, Not More Lectures"
ABSTRACT = """abstract: >-
  Clinician-educator support is moving from informal mentorship toward structured
  coaching, protected time, and peer communities.
"""
TOPICS = """topics:
  - Learning design
  - Workflow-based education
  - Accreditation operations
"""
CTA_URL = "url: https://www.chatcme.example.com/demo"


@dataclass(frozen=True)
class Case:
    make: Callable[[], str | bytes]
    field: str
    message: str
    line: int | str  # a line number, or a fragment of the bad line


CASES: dict[str, Case] = {
    "missing required field": Case(
        lambda: edited("series: Clinician Learning Brief\n", ""), "series", "is required", 2
    ),
    "empty required field": Case(
        lambda: edited(ABSTRACT, 'abstract: ""\n'), "abstract", "is empty", 'abstract: ""'
    ),
    "empty source field": Case(
        lambda: edited("outlet: Faculty Feed", "outlet:"),
        "sources[1].outlet",
        "is empty",
        "    outlet:",
    ),
    "missing source field": Case(
        lambda: edited("  - kind: YouTube\n    title:", "  - title:"),
        "sources[2].kind",
        "is required",
        '  - title: "#34',
    ),
    "empty list of takeaways": Case(
        lambda: edited(
            example_text()[example_text().index("takeaways:") : example_text().index("sources:")],
            "takeaways:\n",
        ),
        "takeaways",
        "is empty",
        "takeaways:",
    ),
    "unknown key": Case(
        lambda: edited(TITLE, TITLE.replace("title:", "titel:")),
        "titel",
        "unknown key; did you mean 'title'?",
        "titel:",
    ),
    "unknown nested key": Case(
        lambda: edited("    url: https://www.youtube.com", "    urll: https://www.youtube.com"),
        "sources[2].urll",
        "unknown key; did you mean 'url'?",
        "urll:",
    ),
    "duplicate key": Case(
        lambda: edited("kicker: Insights\n", "kicker: Insights\nkicker: Again\n"),
        "kicker",
        "is given twice (first on line 3)",
        "kicker: Again",
    ),
    "javascript: source url": Case(
        lambda: edited(
            "url: https://www.facultyfeed.example.org/episodes/dean-bumpous-interviews-us",
            "url: javascript:alert(document.cookie)",
        ),
        "sources[1].url",
        "must be an http or https URL, not 'javascript:'",
        "javascript:alert",
    ),
    "javascript: cta url": Case(
        lambda: edited(CTA_URL, "url: JavaScript:alert(1)"),
        "cta.url",
        "must be an http or https URL, not 'JavaScript:'",
        "JavaScript:alert",
    ),
    "url without host": Case(
        lambda: edited(CTA_URL, "url: https:///demo"), "cta.url", "must name a host", "https:///"
    ),
    "javascript: link in body": Case(
        lambda: edited("[Faculty Feed](source:1)", "[Faculty Feed](javascript:alert(1))"),
        "body",
        "link (javascript:alert(1)) must be an http or https URL",
        "javascript:alert(1)",
    ),
    "data: image in body": Case(
        lambda: edited(
            "## What changed this week\n",
            "## What changed this week\n\n![x](data:image/png,AAAA)\n",
        ),
        "body",
        "image (data:image/png,AAAA) must be an http or https URL, not 'data:'",
        "![x](data:",
    ),
    "citation of a missing source": Case(
        lambda: edited("(source:2)", "(source:3)"),
        "body",
        "citation (source:3) names source 3, but the brief has 2 sources",
        "(source:3)",
    ),
    "malformed citation": Case(
        lambda: edited("(source:2)", "(source:two)"),
        "body",
        "must be source:N",
        "(source:two)",
    ),
    "coverage end before start": Case(
        lambda: edited("end: 2024-01-14", "end: 2024-01-07"),
        "coverage.end",
        "2024-01-07 is before start 2024-01-08",
        "end: 2024-01-07",
    ),
    "coverage date not ISO": Case(
        lambda: edited("start: 2024-01-08", "start: 8 Jan 2024"),
        "coverage.start",
        "must be an ISO date (YYYY-MM-DD), not '8 Jan 2024'",
        "start: 8 Jan",
    ),
    "empty topic list": Case(
        lambda: edited(TOPICS, "topics: []\n"), "topics", "is an empty list", "topics: []"
    ),
    "topics left blank": Case(lambda: edited(TOPICS, "topics:\n"), "topics", "is empty", "topics:"),
    "topic with no letters": Case(
        lambda: edited("  - Learning design\n", "  - '***'\n"),
        "topics[1]",
        "has no letters or digits",
        "'***'",
    ),
    "bad slug": Case(
        lambda: edited("kicker: Insights\n", "kicker: Insights\nslug: Not A Slug\n"),
        "slug",
        "must be lowercase letters, digits and single hyphens",
        "slug: Not",
    ),
    "broken YAML": Case(
        lambda: edited(TITLE, "title: [Clinician-Educators"),
        "front matter",
        "is not valid YAML: while parsing a flow sequence",
        "title: [Clinician",
    ),
    "front matter not a mapping": Case(
        lambda: "---\n- a\n- b\n---\nbody\n", "front matter", "must be a mapping", 2
    ),
    "no front matter": Case(lambda: "# Just Markdown\n", "front matter", "is missing", 1),
    "unclosed front matter": Case(
        lambda: "---\ntitle: x\n", "front matter", "has no closing '---' line", 1
    ),
    "empty file": Case(lambda: b"", "file", "is empty", 1),
    "blank file": Case(lambda: "\n  \n\n", "file", "is empty", 1),
    "not UTF-8": Case(
        lambda: edited("outlet: Faculty Feed", "outlet: Faculty Feed \udcff").encode(
            "utf-8", "surrogateescape"
        ),
        "file",
        "is not UTF-8 (byte 0xff at column 26)",
        "outlet: Faculty Feed",
    ),
    "per-recipient placeholder in text": Case(
        lambda: edited("outlet: Faculty Feed", "outlet: Faculty %%bm:unsubscribe_url%%"),
        "sources[1].outlet",
        "must not contain '%%bm:'",
        "%%bm:",
    ),
    "escape character from a YAML escape": Case(
        lambda: edited(TITLE, 'title: "A \\e B"'),
        "title",
        "contains U+001B (escape), a control character, written as a YAML escape",
        'title: "A \\e B"',
    ),
    "form feed from a YAML escape": Case(
        lambda: edited("kicker: Insights", 'kicker: "In\\x0csights"'),
        "kicker",
        "contains U+000C (form feed), a control character",
        "kicker:",
    ),
    "next line (C1) from a YAML escape in a nested field": Case(
        lambda: edited("outlet: Teachning and Learning at KI", 'outlet: "KI\\u0085"'),
        "sources[2].outlet",
        "contains U+0085 (next line), a control character",
        'outlet: "KI',
    ),
    "noncharacter from a YAML escape": Case(
        lambda: edited("label: Request a demo", 'label: "Request \\uFFFE"'),
        "cta.label",
        "contains U+FFFE, a Unicode noncharacter",
        "label:",
    ),
    "lone surrogate from a YAML escape": Case(
        lambda: edited("  - Learning design\n", '  - "Learning \\uD800"\n'),
        "topics[1]",
        "contains U+D800, a lone surrogate",
        "Learning \\uD800",
    ),
    "carriage return inside a value": Case(
        lambda: edited('segment: "1:35-3:36"', 'segment: "1:35\\r3:36"'),
        "sources[1].segment",
        "contains U+000D (carriage return)",
        'segment: "1:35',
    ),
    "escape character typed into a block scalar": Case(
        lambda: edited(
            "      communities of practice that use coaching rather than lectures.",
            "      communities of practice that use \x1b[31mcoaching rather than lectures.",
        ),
        "sources[1].summary",
        "contains U+001B (escape), a control character, at column 40",
        "communities of practice that use",
    ),
    "form feed typed into the body": Case(
        lambda: edited("## What changed this week", "## What changed\x0c this week"),
        "body",
        "contains U+000C (form feed), a control character, at column 16",
        "## What changed",
    ),
    "character reference to a form feed in the body": Case(
        lambda: edited("The clearest signal came", "The &#12;clearest signal came"),
        "body",
        "has a character reference that makes U+000C (form feed)",
        "The &#12;clearest",
    ),
    "control character in a YAML comment": Case(
        lambda: edited("kicker: Insights\n", "kicker: Insights  # note\x07\n"),
        "front matter",
        "contains U+0007 (bell), a control character, at column 25",
        "kicker: Insights  # note",
    ),
    "level-one heading in body": Case(
        lambda: edited("## What changed this week", "# What changed this week"),
        "body",
        "use '## ' for section headings",
        "# What changed",
    ),
}


def expected_line(case: Case, content: str | bytes) -> int:
    if isinstance(case.line, int):
        return case.line
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    return line_of(text, case.line)


@pytest.mark.parametrize("name", list(CASES))
def test_refusal(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    content = case.make()
    path = write(tmp_path, content)
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(["preview", str(path), "--out", str(out)], monkeypatch, capsys)
    assert code == 2, stderr
    prefix = f"{path}:{expected_line(case, content)}: {case.field}: "
    problems = [line.removeprefix("briefmail: error: ") for line in stderr.splitlines()]
    assert any(line.startswith(prefix) and case.message in line for line in problems), stderr
    assert stderr.startswith("briefmail: error: ")
    assert "Traceback" not in stderr
    assert stdout == ""
    assert not out.exists()


def test_missing_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nope.md"
    code, _, stderr = run_cli(["preview", str(path)], monkeypatch, capsys)
    assert code == 2
    assert f"{path}:1: file: cannot be read: No such file or directory" in stderr


def test_a_valid_brief_passes_through_the_same_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Guards the refusal tests: the unedited example must not be refused.
    path = write(tmp_path, example_text())
    code, stdout, stderr = run_cli(["preview", str(path)], monkeypatch, capsys)
    assert (code, stderr) == (0, "")
    assert "Clinician-Educators Want Coaching Programs" in stdout


@pytest.mark.parametrize(
    "name", ["javascript: source url", "not UTF-8", "broken YAML", "citation of a missing source"]
)
def test_refusal_from_the_installed_command(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    content = case.make()
    path = write(tmp_path, content)
    out = tmp_path / "out"
    command = Path(sys.executable).parent / "briefmail"
    result = subprocess.run(
        [str(command), "preview", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert f"{path}:{expected_line(case, content)}: {case.field}: " in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
