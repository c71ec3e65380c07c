"""Run `briefmail` in-process through `briefmail.cli.main` (error mapping included),
or as a real subprocess when the entry point itself is under test."""

from __future__ import annotations

import subprocess
import sys

import pytest

from briefmail.cli import main


def run_cli(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `briefmail ARGS`, run in this process."""
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["briefmail", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0 if code is None else 1), captured.out, captured.err


def run_process(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m briefmail ARGS` in a child process with the test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "briefmail", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
