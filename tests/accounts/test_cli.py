"""`briefmail users`, `api-tokens` and `audit list`, as a person at a shell uses them."""

from __future__ import annotations

import getpass
import json

import pytest
from typer.main import get_command

from briefmail.accounts import tokens
from briefmail.accounts.passwords import verify_password
from briefmail.cli import app
from briefmail.db.session import session_scope
from tests.cli import run_cli, run_process

PASSWORD = "correct horse battery"


def test_users_add_reads_a_piped_password(db_url: str) -> None:
    added = run_process(["users", "add", "Dana@Example.org", "--role", "editor"], PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added dana@example.org (editor)"
    assert PASSWORD not in added.stdout + added.stderr
    with session_scope() as session:
        from briefmail.accounts.users import get_user

        assert verify_password(PASSWORD, get_user(session, "dana@example.org").password_hash)[0]


def test_the_password_is_never_an_argument() -> None:
    add = get_command(app).commands["users"].commands["add"]  # type: ignore[attr-defined]
    assert [p.name for p in add.params] == ["email", "role"]


@pytest.mark.parametrize(
    ("stdin", "message"),
    [("", "give it on standard input"), ("short\n", "at least 12 characters")],
)
def test_users_add_refuses_a_missing_or_weak_password(
    db_url: str, stdin: str, message: str
) -> None:
    ran = run_process(["users", "add", "dana@example.org", "--role", "editor"], stdin)
    assert ran.returncode == 2
    assert message in ran.stderr
    assert "Traceback" not in ran.stderr


def test_users_list_set_role_remove_and_the_audit_log(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for email, role in [("root@example.org", "admin"), ("m@example.org", "marketing")]:
        assert run_process(["users", "add", email, "--role", role], PASSWORD).returncode == 0
    code, out, _ = run_cli(["users", "set-role", "m@example.org", "editor"], monkeypatch, capsys)
    assert (code, out.strip()) == (0, "m@example.org: editor")
    code, out, _ = run_cli(["users", "list", "--json"], monkeypatch, capsys)
    listed = json.loads(out)["users"]
    assert [(u["email"], u["role"]) for u in listed] == [
        ("m@example.org", "editor"),
        ("root@example.org", "admin"),
    ]
    assert all("password" not in key for u in listed for key in u)
    code, _, err = run_cli(["users", "remove", "root@example.org"], monkeypatch, capsys)
    assert code == 1
    assert "last admin" in err
    code, _, err = run_cli(["users", "set-role", "m@example.org", "owner"], monkeypatch, capsys)
    assert code == 2
    assert "not one of editor, marketing, admin" in err
    assert run_cli(["users", "remove", "m@example.org"], monkeypatch, capsys)[0] == 0

    code, out, _ = run_cli(["audit", "list", "--json"], monkeypatch, capsys)
    entries = json.loads(out)["entries"]
    who = getpass.getuser()
    assert [
        (e["action"], e["target"], e["actor"], e["actor_kind"], e["source"]) for e in entries
    ] == [
        ("user.remove", "m@example.org", who, "cli", "cli"),
        ("user.set-role", "m@example.org", who, "cli", "cli"),
        ("user.add", "m@example.org", who, "cli", "cli"),
        ("user.add", "root@example.org", who, "cli", "cli"),
    ]
    assert entries[1]["detail"] == {"from": "marketing", "to": "editor"}
    code, out, _ = run_cli(["audit", "list"], monkeypatch, capsys)
    assert code == 0
    assert "user.set-role" in out


def test_api_tokens_create_list_revoke(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["api-tokens", "create", "cms", "--scopes", "read,briefs:write"]
    code, out, _ = run_cli(args, monkeypatch, capsys)
    assert code == 0
    token = out.strip().splitlines()[-1]
    with session_scope() as session:
        from briefmail import clock

        row = tokens.authenticate(session, token, now=clock.now())
        assert row is not None
        assert row.scopes == ["read", "briefs:write"]
    code, out, _ = run_cli(["api-tokens", "list", "--json"], monkeypatch, capsys)
    (listed,) = json.loads(out)["tokens"]
    assert (listed["name"], listed["scopes"], listed["revoked_at"]) == (
        "cms",
        ["read", "briefs:write"],
        None,
    )
    assert token not in out
    code, _, err = run_cli(["api-tokens", "create", "x", "--scopes", "root"], monkeypatch, capsys)
    assert code == 2
    assert "root is not a scope" in err
    assert run_cli(["api-tokens", "revoke", "cms"], monkeypatch, capsys)[0] == 0
    code, out, _ = run_cli(["api-tokens", "list"], monkeypatch, capsys)
    assert code == 0
    assert "cms" in out
    code, _, err = run_cli(["api-tokens", "revoke", "cms"], monkeypatch, capsys)
    assert code == 1
    assert "no live token named 'cms'" in err
    code, out, _ = run_cli(["audit", "list", "--json"], monkeypatch, capsys)
    actions = [(e["action"], e["target"]) for e in json.loads(out)["entries"]]
    assert actions == [("api-token.revoke", "cms"), ("api-token.create", "cms")]
