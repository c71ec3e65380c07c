"""The commands marketing runs: exit codes, messages, the send id last (SQLite default)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from briefmail.cli import main
from briefmail.db.models import Delivery, Send
from briefmail.db.session import session_scope
from tests.conftest import EXAMPLE_BRIEF
from tests.sending.helpers import add_people, store_brief

JSON_KEYS = {"id", "brief", "status", "scheduled_for", "recipients", "accepted", "failed", "errors"}


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def briefmail(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Ran]:
    """Run the command in this process, through `main` (exit codes as for a person)."""

    def run(*args: str) -> Ran:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["briefmail", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


def test_send_refuses_a_draft_clearly() -> None:
    """As a real process: exit 1, a clear message, no traceback, nothing written."""
    with session_scope() as session:
        slug = store_brief(session, approve=False)
    result = subprocess.run(
        [sys.executable, "-m", "briefmail", "send", slug, "--now"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert result.returncode == 1
    assert "is a draft" in result.stderr
    assert "briefmail brief approve" in result.stderr
    assert "Traceback" not in result.stderr
    with session_scope() as session:
        assert session.scalars(select(Send)).all() == []


def test_send_now_runs_in_process_and_prints_the_id_last(
    briefmail: Callable[..., Ran], tmp_path: Path
) -> None:
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, 3, topics=["learning-design"])
    result = briefmail("send", slug, "--now", "--wait")
    assert result.returncode == 0, result.stderr
    send_id = int(result.stdout.strip().splitlines()[-1])
    assert "3 accepted" in result.stdout
    assert len(list((tmp_path / "outbox" / f"send-{send_id}").glob("*.eml"))) == 3
    shown = briefmail("sends", "show", str(send_id), "--json")
    data = json.loads(shown.stdout)
    assert set(data) >= JSON_KEYS
    assert (data["status"], data["recipients"], data["accepted"], data["failed"]) == (
        "sent",
        3,
        3,
        0,
    )
    listed = json.loads(briefmail("sends", "list", "--json").stdout)["sends"]
    assert [s["id"] for s in listed] == [send_id]
    again = briefmail("send", slug, "--now")
    assert "0 recipients" in again.stdout  # everyone already has it


def test_test_to_sends_a_marked_proof_of_a_draft(
    briefmail: Callable[..., Ran], tmp_path: Path
) -> None:
    with session_scope() as session:
        slug = store_brief(session, approve=False)
        add_people(session, 3, topics=["learning-design"])
    result = briefmail("send", slug, "--test-to", "a@x.org,b@y.org")
    assert result.returncode == 0, result.stderr
    send_id = int(result.stdout.strip().splitlines()[-1])
    files = list((tmp_path / "outbox" / f"send-{send_id}").glob("*.eml"))
    assert len(files) == 2
    assert all(b"Subject: [TEST] " in f.read_bytes() for f in files)
    with session_scope() as session:
        send = session.get_one(Send, send_id)
        subscribers = set(session.scalars(select(Delivery.subscriber_id)))
    assert send.kind == "test"
    assert subscribers == {None}


def test_scheduled_send_can_be_cancelled_and_bad_input_exits_2(
    briefmail: Callable[..., Ran],
) -> None:
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, 2, topics=["learning-design"])
    scheduled = briefmail("send", slug, "--at", "2999-01-04T09:00", "--tz", "America/New_York")
    assert scheduled.returncode == 0, scheduled.stderr
    send_id = scheduled.stdout.strip().splitlines()[-1]
    assert "2999-01-04T14:00:00+00:00" in scheduled.stdout
    cancelled = briefmail("sends", "cancel", send_id)
    assert "cancelled" in cancelled.stdout
    assert briefmail("sends", "cancel", send_id).returncode == 1  # already cancelled
    bad = briefmail("send", slug, "--at", "next tuesday")
    assert bad.returncode == 2
    assert "--at" in bad.stderr
    both = briefmail("send", slug, "--now", "--at", "2999-01-01T00:00")
    assert both.returncode == 2


def test_schedule_weekly_and_show(briefmail: Callable[..., Ran]) -> None:
    with session_scope() as session:
        store_brief(session)
    result = briefmail(
        "schedule",
        "weekly",
        "--day",
        "mon",
        "--time",
        "09:00",
        "--tz",
        "America/New_York",
        "--local-time",
    )
    assert result.returncode == 0, result.stderr
    assert "mon 09:00 America/New_York (each subscriber's local time)" in result.stdout
    shown = briefmail("schedule", "show")
    assert "in line 1: 2024-01-08-clinician-educators" in shown.stdout
    bad = briefmail("schedule", "weekly", "--day", "mon", "--time", "9am", "--tz", "UTC")
    assert bad.returncode == 2
    assert EXAMPLE_BRIEF.exists()


def test_a_later_send_waits_for_run_due_without_a_broker(
    briefmail: Callable[..., Ran], tmp_path: Path
) -> None:
    from datetime import timedelta

    from briefmail import clock
    from tests.sending.helpers import T0

    clock.set_now(T0)
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, 2, topics=["learning-design"])
    later = (T0 + timedelta(hours=1)).isoformat()
    scheduled = briefmail("send", slug, "--at", later)
    assert scheduled.returncode == 0, scheduled.stderr
    assert "briefmail worker" in scheduled.stderr  # nothing runs it in this process
    send_id = int(scheduled.stdout.strip().splitlines()[-1])
    assert "started 0 send(s)" in briefmail("sends", "run-due").stdout  # not due yet
    assert not (tmp_path / "outbox").exists()
    clock.set_now(T0 + timedelta(hours=1, seconds=1))
    ran = briefmail("sends", "run-due")
    assert "started 1 send(s)" in ran.stdout
    shown = json.loads(briefmail("sends", "show", str(send_id), "--json").stdout)
    assert (shown["status"], shown["accepted"]) == ("sent", 2)
