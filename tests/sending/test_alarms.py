"""Alarms a marketer sees: in `sends list/show`, counted in /healthz, mailed once each."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from briefmail import clock
from briefmail.config import get_settings
from briefmail.db.models import AlarmNotice, Batch
from briefmail.db.session import session_scope
from briefmail.sending import alarms, answers, claims, service, weekly
from briefmail.sending.backends.base import BatchResult, EmailBackend, OutgoingBatch
from briefmail.sending.backends.outbox import OutboxBackend
from briefmail.sending.backends.sendgrid import SendGridBackend
from briefmail.sending.doubt import DoubtPolicy
from briefmail.tracking.events import apply_events
from briefmail.tracking.sendgrid_events import parse_sendgrid
from tests.cli import run_cli
from tests.fakes.sendgrid_server import API_KEY, FakeSendGrid
from tests.sending.helpers import (
    POISON,
    T0,
    add_people,
    live_owner,
    make_engine,
    poisoned_brief,
    started_send,
    store_brief,
)
from tests.web.server import LiveServer
from tests.worker.conftest import wait_until

OPS = ("ops@example.org", "Marketing Lead <lead@example.org>")
STALL = 600


def _alarm_mails(outbox: Path) -> list[email.message.EmailMessage]:
    files = sorted((outbox / "send-0").glob("*.eml")) if (outbox / "send-0").exists() else []
    return [
        email.message_from_bytes(f.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for f in files
    ]


def _failed_send() -> int:
    clock.set_now(T0)
    with session_scope() as session:
        store_brief(session)
        poisoned_brief(session)
        add_people(session, 3, topics=["learning-design"])
        return service.create_send(session, POISON, at=T0, now=T0).id


def test_a_failed_send_is_shown_and_mailed_once(
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    send_id = _failed_send()
    outbox = tmp_path / "o"
    engine = make_engine(OutboxBackend(outbox), alert_to=OPS)
    assert engine.work().failed == [send_id]

    assert engine.tick().mailed == [f"failed:{send_id}"]
    assert engine.tick().mailed == []  # once per incident, however many ticks see it
    mails = _alarm_mails(outbox)
    assert len(mails) == 2  # one message to each alert address
    assert sorted(m["To"] for m in mails) == [
        "Marketing Lead <lead@example.org>",
        "ops@example.org",
    ]
    subject = mails[0]["Subject"]
    assert subject.startswith(f"[briefmail] send {send_id} of {POISON} failed: could not start:")
    assert "control character" in mails[0].get_body(("plain",)).get_content()
    assert "List-Unsubscribe" not in mails[0]  # staff mail, not a subscriber's

    code, out, err = run_cli(["sends", "list"], monkeypatch, capsys)
    assert code == 0, err
    assert "alarms" in out
    code, out, err = run_cli(["sends", "show", str(send_id), "--json"], monkeypatch, capsys)
    assert code == 0, err
    [alarm] = json.loads(out)["alarms"]
    assert (alarm["kind"], alarm["send_id"]) == ("failed", send_id)
    assert alarm["message"].startswith(f"send {send_id} of {POISON} failed: could not start: ")
    code, out, err = run_cli(["sends", "show", str(send_id)], monkeypatch, capsys)
    assert f"alarm: send {send_id} of {POISON} failed: could not start:" in out


def test_a_mail_the_backend_refuses_is_mailed_at_the_next_tick(db_url: str, tmp_path: Path) -> None:
    send_id = _failed_send()

    class Down(EmailBackend):
        name = "outbox"

        def __init__(self) -> None:
            self.calls = 0

        def send_batch(self, batch: OutgoingBatch) -> BatchResult:
            self.calls += 1
            if self.calls <= 2:  # the send's start never calls it; the first alarm mail does
                raise OSError("relay down")
            return BatchResult()

    backend = Down()
    engine = make_engine(backend, alert_to=OPS)
    engine.work()
    assert engine.tick().mailed == []
    with session_scope() as session:
        assert session.scalars(select(AlarmNotice)).all() == []  # released
    assert engine.tick().mailed == []
    assert engine.tick().mailed == [f"failed:{send_id}"]


def test_a_claim_whose_worker_died_before_mailing_is_taken_again(db_url: str) -> None:
    clock.set_now(T0)
    alarm = alarms.Alarm("failed", "failed:1", "send 1 failed", T0, None)
    from briefmail.sending import alarm_mail

    with session_scope() as session:
        assert alarm_mail.claim(session, [alarm], attempt_key="a", now=T0, lease_seconds=60)
    later = T0 + timedelta(seconds=30)
    with session_scope() as session:
        assert (
            alarm_mail.claim(session, [alarm], attempt_key="b", now=later, lease_seconds=60) == []
        )
    later = T0 + timedelta(seconds=61)
    with session_scope() as session:
        assert alarm_mail.claim(session, [alarm], attempt_key="c", now=later, lease_seconds=60)


def test_a_due_send_nobody_starts_is_stalled(db_url: str) -> None:
    clock.set_now(T0)
    with session_scope() as session:
        slug = store_brief(session)
        send_id = service.create_send(session, slug, at=T0, now=T0).id
    with session_scope() as session:
        assert (
            alarms.current(session, now=T0 + timedelta(seconds=STALL - 1), stall_seconds=STALL)
            == []
        )
        [alarm] = alarms.current(session, now=T0 + timedelta(seconds=STALL), stall_seconds=STALL)
    assert (alarm.kind, alarm.send_id) == ("stalled", send_id)
    assert "no worker has started it" in alarm.message


def test_a_send_with_a_batch_in_doubt_stalls_and_progress_clears_it(db_url: str) -> None:
    send_id = started_send(20)  # 2 batches, at T0
    with session_scope() as session:
        claim = claims.claim_next_batch(session, now=T0, worker="w")
    assert isinstance(claim, claims.Claim)
    with session_scope() as session:
        answers.record_unknown(session, claim, "read timeout", T0)

    def standing(at: datetime) -> dict[str, alarms.Alarm]:
        with session_scope() as session:
            return {a.kind: a for a in alarms.current(session, now=at, stall_seconds=STALL)}

    first = standing(T0 + timedelta(seconds=STALL))
    assert set(first) == {"stalled", "in-doubt"}
    assert first["stalled"].message.startswith(
        f"send {send_id} of 2024-01-08-clinician-educators-want-coaching-programs-not-more-"
        "lectures has made no progress for 10 min"
    )
    assert first["in-doubt"].key == f"in-doubt:{claim.batch_id}:{claim.attempt_key}"
    # The other batch goes out at T0 + 20 min: progress; the stall is a new incident later.
    with session_scope() as session:
        other = claims.claim_next_batch(session, now=T0 + timedelta(minutes=20), worker="w")
    assert isinstance(other, claims.Claim)
    with session_scope() as session:
        answers.record_accepted(session, other, BatchResult(), T0 + timedelta(minutes=20))
    assert set(standing(T0 + timedelta(minutes=25))) == {"in-doubt"}
    again = standing(T0 + timedelta(minutes=31))["stalled"]
    assert again.key != first["stalled"].key


def test_a_local_time_send_waiting_for_its_next_zone_is_not_stalled(db_url: str) -> None:
    send_id = started_send(10)
    with session_scope() as session:
        session.execute(
            update(Batch).where(Batch.send_id == send_id).values(due_at=T0 + timedelta(hours=5))
        )
        assert alarms.current(session, now=T0 + timedelta(hours=4), stall_seconds=STALL) == []
        stalled = alarms.current(
            session, now=T0 + timedelta(hours=5, minutes=10), stall_seconds=STALL
        )
    assert [a.kind for a in stalled] == ["stalled"]  # due an hour... ten minutes ago, untouched


def test_a_slot_that_passed_with_briefs_waiting_and_no_send(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sunday = datetime(2024, 1, 14, 12, 0, tzinfo=UTC)
    clock.set_now(sunday)
    with session_scope() as session:
        poisoned_brief(session)
        weekly.set_weekly_slot(
            session, day="mon", at="09:00", tz="America/New_York", local_time=False, now=sunday
        )
    slot = datetime(2024, 1, 15, 14, 0, tzinfo=UTC)
    with session_scope() as session:  # beat is not running
        assert (
            alarms.slot_missed(
                session, now=slot + timedelta(seconds=STALL - 1), stall_seconds=STALL
            )
            is None
        )
        missed = alarms.slot_missed(
            session, now=slot + timedelta(seconds=STALL), stall_seconds=STALL
        )
    assert missed is not None
    assert missed.message == (
        "the weekly slot (mon 09:00 America/New_York) of 2024-01-15T14:00+00:00 passed "
        "with 1 approved brief(s) waiting and no send"
    )
    # Beat ticks; the only brief in line fails to start: still no send went ahead.
    clock.set_now(slot + timedelta(seconds=1))
    engine = make_engine(OutboxBackend(tmp_path / "o"))
    engine.tick()
    engine.work()
    clock.set_now(slot + timedelta(seconds=STALL))
    code, out, err = run_cli(["sends", "list"], monkeypatch, capsys)
    assert code == 0, err
    assert "1 of them failed to start" in out
    code, out, err = run_cli(["sends", "list", "--json"], monkeypatch, capsys)
    listed = json.loads(out)
    assert listed["sends"][0]["alarms"][0]["kind"] == "failed"
    assert listed["alarms"][0]["kind"] == "slot-missed"
    assert listed["alarms"][0]["message"].startswith("the weekly slot (mon 09:00 America/New")


def test_healthz_counts_alarms_without_their_text(db_url: str) -> None:
    _failed_send()
    make_engine(OutboxBackend(Path("o"))).work()
    clock.set_now(None)  # the failure was at T0: older than a week by now, so not counted
    server = LiveServer(get_settings()).start()
    none = {"failed": 0, "stalled": 0, "slot_missed": 0, "in_doubt": 0}

    def counts() -> Any:
        return httpx.get(f"{server.url}/healthz").json()["alarms"]

    try:
        wait_until(lambda: counts() == none, timeout=30, what="the first counts")
        clock.set_now(T0 + timedelta(hours=1))
        wait_until(lambda: counts() == {**none, "failed": 1}, timeout=30, what="a failed send")
        body = httpx.get(f"{server.url}/healthz").json()
    finally:
        server.stop()
    assert POISON not in json.dumps(body)
    assert "Mjml" not in json.dumps(body)


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server


def test_the_alarm_mail_shows_the_webhook_alive_to_a_batch_in_doubt(
    db_url: str, fake: FakeSendGrid
) -> None:
    """The only request after the one in doubt is the alarm mail about it: its events
    are the evidence the batch needs to settle by itself."""
    send_id = started_send(5)
    policy = DoubtPolicy(grace_seconds=120, request_seconds=5)
    engine = make_engine(
        SendGridBackend(api_key=API_KEY, host=fake.url, timeout=5),
        alert_to=OPS[:1],
        doubt=policy,
        lease_seconds=60,
    )
    with session_scope() as session:
        claim = claims.claim_next_batch(session, now=T0, worker=live_owner())
    assert isinstance(claim, claims.Claim)
    # Its worker died before the request left: SendGrid never saw it.
    clock.set_now(T0 + timedelta(seconds=301))  # its owner's heartbeat is a lease old

    report = engine.tick()
    assert report.settled == {claim.batch_id: "unknown"}
    assert report.mailed == [f"in-doubt:{claim.batch_id}:{claim.attempt_key}"]
    [mail] = fake.accepted
    assert mail["email"] == OPS[0]
    assert mail["custom_args"]["batch_id"] == "0"
    _events(fake)
    clock.set_now(T0 + timedelta(seconds=400))
    assert engine.tick().settled == {claim.batch_id: "pending"}  # resent
    engine.work()
    with session_scope() as session:
        view = service.get_send(session, send_id)
    assert (view.status, view.accepted) == ("sent", 5)
    assert len(fake.accepted) == 1 + 5


def _events(fake: FakeSendGrid) -> None:
    body = json.dumps(fake.events()).encode()
    with session_scope() as session:
        apply_events(session, parse_sendgrid(body).events, received_at=clock.now())
