"""Every command against a database it cannot use: one line, the right exit status, no traceback.

The databases: a new PostgreSQL database nobody migrated, a closed port, `notaurl`
and a `mysql://` URL. Every command of `briefmail` is in COMMANDS (a test checks that
none is missing), so a new command is held to the same edge.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command

from briefmail.cli import app
from briefmail.config import get_settings
from briefmail.db.session import dispose_engines
from tests.briefs.variants import example_text, write
from tests.cli import run_cli

SLUG = "2024-01-08-clinician-educators-want-coaching-programs-not-more-lectures"
# Each command with arguments that get it as far as the database.
COMMANDS: dict[str, list[str]] = {
    "audience": ["audience", SLUG],
    "report": ["report", SLUG],
    "send": ["send", SLUG, "--now"],
    "web": ["web", "--port", "1"],
    "clicks": ["clicks", "--port", "1"],
    "worker": ["worker"],
    "brief import": ["brief", "import", "{brief}"],
    "brief approve": ["brief", "approve", SLUG, "--by", "Dana"],
    "brief list": ["brief", "list"],
    "db upgrade": ["db", "upgrade"],
    "schedule weekly": ["schedule", "weekly", "--day", "mon", "--time", "09:00", "--tz", "UTC"],
    "schedule show": ["schedule", "show"],
    "sends list": ["sends", "list"],
    "sends show": ["sends", "show", "1"],
    "sends cancel": ["sends", "cancel", "1"],
    "sends resolve": ["sends", "resolve", "1", "--accepted"],
    "sends run-due": ["sends", "run-due"],
    "subscribers import": ["subscribers", "import", "{csv}"],
    "subscribers add": ["subscribers", "add", "ann@example.org"],
    "subscribers unsubscribe": ["subscribers", "unsubscribe", "ann@example.org"],
    "subscribers suppress": ["subscribers", "suppress", "ann@example.org"],
    "subscribers list": ["subscribers", "list"],
    "subscribers export": ["subscribers", "export"],
    "topics list": ["topics", "list"],
    "users add": ["users", "add", "dana@example.org", "--role", "editor"],
    "users list": ["users", "list"],
    "users set-role": ["users", "set-role", "dana@example.org", "admin"],
    "users remove": ["users", "remove", "dana@example.org"],
    "api-tokens create": ["api-tokens", "create", "cms", "--scopes", "read"],
    "api-tokens list": ["api-tokens", "list"],
    "api-tokens revoke": ["api-tokens", "revoke", "cms"],
    "audit list": ["audit", "list"],
    "archive build": ["archive", "build", "{site}"],
    # These two never touch the configured database (demo makes its own), so only a
    # malformed setting stops them.
    "preview": ["preview", "{brief}"],
    "demo": ["demo"],
}
NO_DATABASE = {"preview", "demo"}
BAD_URLS = {
    "notaurl": ("notaurl", "BRIEFMAIL_DATABASE_URL: is not a database URL"),
    "mysql": ("mysql://user@db.example.org/briefmail", "BRIEFMAIL_DATABASE_URL: mysql is not"),
}


def _all_commands() -> list[str]:
    names = []
    for name, command in get_command(app).commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        names.extend(f"{name} {sub}" for sub in subcommands) if subcommands else names.append(name)
    return names


def test_every_command_is_covered() -> None:
    missing = set(_all_commands()) - set(COMMANDS)
    assert not missing, f"add these to COMMANDS in {__file__}: {sorted(missing)}"


def args_for(name: str, tmp_path: Path) -> list[str]:
    brief = write(tmp_path, example_text())
    csv = tmp_path / "people.csv"
    csv.write_text("email,name,topics\nann@example.org,Ann,\n", encoding="utf-8")
    site = tmp_path / "site"
    return [a.format(brief=brief, csv=csv, site=site) for a in COMMANDS[name]]


def use_database(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIEFMAIL_DATABASE_URL", url)
    get_settings.cache_clear()
    dispose_engines()


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("briefmail: error: ")
    return lines[0]


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - NO_DATABASE - {"db upgrade"}))
def test_unmigrated_postgresql(
    name: str,
    empty_pg: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_database(empty_pg, monkeypatch)
    code, _, stderr = run_cli(args_for(name, tmp_path), monkeypatch, capsys)
    line = one_error_line(stderr)
    assert code == 1
    assert line.endswith("has no briefmail tables yet: run `briefmail db upgrade`"), line


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - NO_DATABASE))
def test_unreachable_database(
    name: str,
    closed_port_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_database(closed_port_url, monkeypatch)
    code, _, stderr = run_cli(args_for(name, tmp_path), monkeypatch, capsys)
    line = one_error_line(stderr)
    assert code == 1
    assert "cannot use the database at postgresql://briefmail:***@127.0.0.1:" in line
    assert "Connection refused" in line


@pytest.mark.parametrize("bad", sorted(BAD_URLS))
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_malformed_or_unsupported_url(
    name: str,
    bad: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, message = BAD_URLS[bad]
    use_database(url, monkeypatch)
    code, _, stderr = run_cli(args_for(name, tmp_path), monkeypatch, capsys)
    assert message in one_error_line(stderr)
    assert code == 2


def test_upgrade_is_the_remedy(
    empty_pg: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_database(empty_pg, monkeypatch)
    assert run_cli(["sends", "list"], monkeypatch, capsys)[0] == 1
    assert run_cli(["db", "upgrade"], monkeypatch, capsys)[0] == 0
    code, out, _ = run_cli(["sends", "list", "--json"], monkeypatch, capsys)
    assert (code, json.loads(out)) == (0, {"sends": [], "alarms": []})


@pytest.mark.parametrize(
    "args",
    [
        ["sends", "show", "99999999999999999999"],
        ["sends", "cancel", "99999999999999999999"],
        ["sends", "resolve", "--resend", "--", "-99999999999999999999"],
        ["sends", "list", "--limit", "99999999999999999999"],
    ],
)
def test_a_number_out_of_range_is_bad_input(
    args: list[str],
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, stderr = run_cli(args, monkeypatch, capsys)
    assert "99999999999999999999 is out of range" in one_error_line(stderr)
    assert code == 2


def run_process(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "briefmail", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def process_env(url: str, **extra: str) -> dict[str, str]:
    import os

    return {**os.environ, "BRIEFMAIL_DATABASE_URL": url, **extra}


@pytest.mark.parametrize(
    "args",
    # run-due builds an engine (whose stop would log a line of its own) before it
    # meets the database; in-process, pytest's log capture would hide that line.
    [["sends", "show", "1"], ["sends", "run-due"]],
    ids=["sends-show", "sends-run-due"],
)
def test_the_real_process_prints_one_line(
    args: list[str], empty_pg: str, closed_port_url: str
) -> None:
    for url, words in [(empty_pg, "briefmail db upgrade"), (closed_port_url, "Connection refused")]:
        result = run_process(args, process_env(url))
        assert result.returncode == 1
        assert words in one_error_line(result.stderr)
        assert result.stdout == ""


def test_debug_adds_the_traceback(closed_port_url: str) -> None:
    result = run_process(["sends", "list"], process_env(closed_port_url, BRIEFMAIL_DEBUG="1"))
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert "psycopg.OperationalError" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("briefmail: error: cannot use the database at")


@pytest.mark.parametrize("args", [["web", "--port", "70000"], ["preview", "x.md", "--port", "0"]])
def test_a_port_out_of_range_is_bad_input(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # uvicorn would otherwise listen on 70000 modulo 65536 and say it runs on 70000.
    code, _, stderr = run_cli(args, monkeypatch, capsys)
    assert code == 2
    assert "Invalid value for '--port'" in stderr
