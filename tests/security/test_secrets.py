"""Signing keys anyone could know or guess: the `.env.example` placeholder, short keys,
an empty key file, a key file per container, a key file half-written when another
process reads it. Each is refused at start in one line naming the setting (exit 2),
or cannot happen."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from briefmail.config import Settings
from tests.cli import run_cli
from tests.conftest import EXAMPLE_BRIEF
from tests.web.server import free_port

PLACEHOLDER = "change-me-to-a-long-random-string"  # as in .env.example


def briefmail(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFMAIL_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "briefmail", *args],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_refused(code: int, stderr: str, setting: str) -> None:
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"briefmail: error: {setting}:"), lines[0]


def preview(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`briefmail preview` in this process: the quickest command that signs links."""
    code, _, stderr = run_cli(["preview", str(EXAMPLE_BRIEF)], monkeypatch, capsys)
    return code, stderr


def test_the_web_app_does_not_start_with_the_placeholder(tmp_path: Path) -> None:
    result = briefmail(
        ["web", "--port", str(free_port())], {"BRIEFMAIL_SECRET_KEY": PLACEHOLDER}, tmp_path
    )
    assert_refused(result.returncode, result.stderr, "BRIEFMAIL_SECRET_KEY")


@pytest.mark.parametrize(
    "key",
    [
        PLACEHOLDER,
        "short-key-0123456789",  # 20 bytes
        "x" * 31,
        f"{'k' * 48},{PLACEHOLDER}",  # one bad key among several
        " , ",
    ],
)
def test_a_guessable_key_in_the_variable_is_refused(monkeypatch, capsys, key: str) -> None:
    monkeypatch.setenv("BRIEFMAIL_SECRET_KEY", key)
    code, stderr = preview(monkeypatch, capsys)
    assert_refused(code, stderr, "BRIEFMAIL_SECRET_KEY")
    for part in filter(None, (k.strip() for k in key.split(","))):
        assert part not in stderr  # a secret is never printed


@pytest.mark.parametrize("content", ["", "\n", "short-key-0123456789\n", PLACEHOLDER])
def test_a_guessable_key_in_the_key_file_is_refused(
    monkeypatch, capsys, tmp_path: Path, content: str
) -> None:
    monkeypatch.delenv("BRIEFMAIL_SECRET_KEY")
    (tmp_path / "briefmail.secret").write_text(content)
    assert_refused(*preview(monkeypatch, capsys), "BRIEFMAIL_SECRET_KEY_FILE")


def test_without_the_variable_only_sqlite_may_use_a_key_file(
    monkeypatch, capsys, tmp_path: Path
) -> None:
    """Each container would generate its own file: the worker would sign unsubscribe
    links that the web app refuses."""
    monkeypatch.delenv("BRIEFMAIL_SECRET_KEY")
    monkeypatch.setenv("BRIEFMAIL_DATABASE_URL", "postgresql://briefmail@127.0.0.1:9/nowhere")
    assert_refused(*preview(monkeypatch, capsys), "BRIEFMAIL_SECRET_KEY")
    assert not (tmp_path / "briefmail.secret").exists()


def test_an_unwritable_key_file_path_is_one_line(monkeypatch, capsys, tmp_path: Path) -> None:
    monkeypatch.delenv("BRIEFMAIL_SECRET_KEY")
    monkeypatch.setenv("BRIEFMAIL_SECRET_KEY_FILE", str(tmp_path / "no-such-folder" / "key"))
    code, stderr = preview(monkeypatch, capsys)
    assert_refused(code, stderr, "BRIEFMAIL_SECRET_KEY_FILE")
    assert "Traceback" not in stderr


def test_the_development_key_file_is_private_and_announced(tmp_path: Path) -> None:
    result = briefmail(["preview", str(EXAMPLE_BRIEF)], {}, tmp_path)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "briefmail.secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text().strip().encode()) >= 32
    assert f"generated a development signing key in {path.name}" in result.stderr
    again = briefmail(["preview", str(EXAMPLE_BRIEF)], {}, tmp_path)
    assert "generated" not in again.stderr  # said once, when created
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_processes_starting_together_all_read_the_one_whole_key(tmp_path: Path) -> None:
    """The file was created empty and written after: a process starting at the same
    moment read it empty and signed with the key b""."""
    for round_ in range(30):
        path = tmp_path / f"round-{round_}.secret"
        settings = Settings(secret_key=None, secret_key_file=path)
        start = threading.Barrier(12)
        keys: list[bytes] = []

        def read(settings: Settings = settings, start: threading.Barrier = start) -> None:
            start.wait()
            keys.append(settings.signing_keys()[0])

        threads = [threading.Thread(target=read) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert set(keys) == {path.read_text().strip().encode()}, round_
        assert len(keys[0]) >= 32
