"""The README's command reference: rendered from the real command tree, the same on any
machine, and checked so that a stale block names the command that changed."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
import typer

from briefmail.cli import reference

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
ENTRIES = reference.entries()


def _entry(path: str) -> reference.Entry:
    return next(entry for entry in ENTRIES if entry.path == path)


def _tiny_app(option_help: str) -> typer.Typer:
    tiny = typer.Typer(name="tiny")
    group = typer.Typer(help="Things.")
    tiny.add_typer(group, name="things")

    @group.command("make")
    def make(
        name: str = typer.Argument(..., help="What to call it."),
        colour: str = typer.Option(..., "--colour", help=option_help),
        loud: bool = typer.Option(False, "--loud", help="Say it | twice."),
    ) -> None:
        """Make a thing | and keep it.

        The second paragraph stays out of the table.
        """

    @tiny.command("other")
    def other() -> None:
        """Another command, so the app is a group."""

    return tiny


def test_entries_come_from_the_command_tree() -> None:
    first = _entry("briefmail brief approve")
    assert first.synopsis == "briefmail brief approve SLUG --by NAME"
    assert first.summary == "Approve the stored text of a draft brief for sending."
    assert first.help.startswith("Usage: briefmail brief approve [OPTIONS]")
    assert "--by NAME" in first.help
    assert "Who approves it." in first.help
    # Groups list their commands; only the commands themselves are entries.
    assert "briefmail brief" not in {entry.path for entry in ENTRIES}
    assert [entry.path.split()[1] for entry in ENTRIES] == sorted(
        entry.path.split()[1] for entry in ENTRIES
    )


def test_an_apps_help_renders_plain_at_the_fixed_width() -> None:
    long_help = "A colour " + "very " * 40 + "bright."
    other, make = reference.entries(_tiny_app(long_help))
    assert (other.path, make.path) == ("briefmail other", "briefmail things make")
    assert make.synopsis == "briefmail things make NAME --colour COLOUR"
    assert make.summary == "Make a thing | and keep it."
    assert "The second paragraph stays out of the table." in make.help
    assert "\x1b[" not in make.help
    assert "│" not in make.help
    lines = make.help.splitlines()
    assert max(len(line) for line in lines) <= reference.WIDTH
    assert sum("very" in line for line in lines) > 1  # wrapped, not cut
    assert make.row() == (
        "| `briefmail things make NAME --colour COLOUR` | Make a thing \\| and keep it. |"
    )


def test_a_changed_help_text_changes_the_block() -> None:
    before = reference.render(reference.entries(_tiny_app("The colour.")))
    after = reference.render(reference.entries(_tiny_app("The shade.")))
    assert "The colour." in before
    assert "The shade." in after
    readme = f"# tiny\n\n{before}\n\nafter\n"
    problems = reference.differences(readme, reference.entries(_tiny_app("The shade.")))
    assert problems == ["`briefmail things make`: its --help block differs or is missing"]


def test_the_check_names_the_command_whose_help_differs() -> None:
    send = _entry("briefmail send")
    stale = README.replace(send.help, send.help.replace("Send now.", "Send at once."), 1)
    assert stale != README
    assert reference.differences(stale, ENTRIES) == [
        "`briefmail send`: its --help block differs or is missing"
    ]


def test_the_check_names_a_changed_summary_row() -> None:
    row = _entry("briefmail db upgrade").row()
    stale = README.replace(row, row.replace("pending", "outstanding"), 1)
    assert reference.differences(stale, ENTRIES) == [
        "`briefmail db upgrade`: its row in the summary table differs"
    ]


def test_the_check_names_a_missing_and_a_removed_command() -> None:
    clicks = _entry("briefmail clicks")
    stale = README.replace(f"\n{clicks.details()}\n", "\n", 1).replace(
        "briefmail clicks --help</code>", "briefmail taps --help</code>"
    )
    stale = stale.replace(
        f"{reference.END}",
        "<details><summary><code>briefmail gone --help</code></summary>\n\n</details>\n"
        + reference.END,
    )
    assert reference.differences(stale, ENTRIES) == [
        "`briefmail clicks`: its --help block differs or is missing",
        "`briefmail gone`: documented but no such command",
    ]


def test_the_check_sees_a_reordered_block() -> None:
    first, second = ENTRIES[0].row(), ENTRIES[1].row()
    swapped = README.replace(f"{first}\n{second}", f"{second}\n{first}", 1)
    assert swapped != README
    assert reference.differences(swapped, ENTRIES) == [
        "the block's order or layout differs from what the code renders"
    ]


def test_markers_must_be_there_once() -> None:
    with pytest.raises(ValueError, match="cli-reference:start"):
        reference.block_of("# no reference here\n")
    with pytest.raises(ValueError, match="exactly one"):
        reference.block_of(f"{reference.START}\n{reference.END}\n{reference.END}\n")


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "briefmail.cli.reference", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_write_then_check_round_trip(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# title\n\n{reference.START}\nold table\n{reference.END}\n\n## next\n", encoding="utf-8"
    )
    stale = _run(["--check", str(readme)], tmp_path)
    assert stale.returncode == 1
    assert "`briefmail send`: its --help block differs or is missing" in stale.stderr
    assert f"run `{reference.REGENERATE}`" in stale.stderr

    written = _run(["--write", str(readme)], tmp_path)
    assert written.returncode == 0, written.stderr
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# title\n\n")
    assert text.endswith("\n\n## next\n")
    assert "old table" not in text
    assert reference.block_of(text) == reference.render(ENTRIES)
    assert _run(["--check", str(readme)], tmp_path).returncode == 0
    again = _run(["--write", str(readme)], tmp_path)
    assert "already up to date" in again.stdout


def test_write_refuses_a_readme_without_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# title\n", encoding="utf-8")
    done = _run(["--write", str(readme)], tmp_path)
    assert done.returncode == 2
    assert "cli-reference:start" in done.stderr
    assert readme.read_text(encoding="utf-8") == "# title\n"


# Variables that make Rich colour or resize its output, as CI runners and terminals set them.
NOISY_ENV = {
    "CI": "true",
    "GITHUB_ACTIONS": "true",
    "FORCE_COLOR": "1",
    "PY_COLORS": "1",
    "TERM": "xterm-256color",
    "COLUMNS": "40",
    "LINES": "20",
    "TERMINAL_WIDTH": "40",
}


def test_output_is_the_same_in_ci_without_a_tty() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "briefmail.cli.reference"],
        env={**os.environ, **NOISY_ENV},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == reference.render(ENTRIES) + "\n"


def test_output_is_the_same_on_a_narrow_terminal() -> None:
    parent, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 20, 40, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    for name in ("COLUMNS", "LINES", "NO_COLOR", "TERMINAL_WIDTH"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "briefmail.cli.reference"],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
    )
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(parent, 65536)
        except OSError:  # the child side closed (Linux reports EIO)
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(parent)
    assert process.wait(timeout=120) == 0
    output = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")
    assert output == reference.render(ENTRIES) + "\n"
