"""Run `briefmail` in this process through `briefmail.cli.main`, as the console script does."""

from __future__ import annotations

import sys

import pytest

from briefmail.cli import main


def run_cli(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `briefmail ARGS`."""
    monkeypatch.setattr(sys, "argv", ["briefmail", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0 if code is None else 1), captured.out, captured.err
