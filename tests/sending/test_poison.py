"""One bad send never blocks another: a send that cannot be prepared fails alone.

A brief whose stored text cannot be prepared (here an ESC in the title, as the YAML
escape `"A \\e B"` gives, written straight into the table as a brief stored before the
parser refused it; it used to make rendering raise) used to leave its send
`scheduled`, claimed first again on every tick, and no other send ever went out.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.config import get_settings
from briefmail.db.models import Batch, Delivery, Send
from briefmail.db.session import session_scope
from briefmail.sending import service, snapshot, weekly
from briefmail.sending.backends.outbox import OutboxBackend
from tests.cli import run_cli, run_process
from tests.sending.helpers import POISON, T0, add_people, make_engine, poisoned_brief, store_brief


def _send(session: Session, slug: str, at: datetime) -> int:
    return service.create_send(session, slug, at=at, now=at - timedelta(minutes=1)).id


def _statuses() -> dict[int, tuple[str, str | None]]:
    with session_scope() as session:
        return {s.id: (s.status, s.error) for s in session.scalars(select(Send))}


def test_a_poisoned_brief_fails_alone_and_the_next_send_goes_out(
    db_url: str, tmp_path: Path
) -> None:
    clock.set_now(T0)
    with session_scope() as session:
        good = store_brief(session)
        poisoned_brief(session)
        add_people(session, 12, topics=["learning-design"])
        first = _send(session, POISON, T0 - timedelta(minutes=5))  # due first
        second = _send(session, good, T0)
    engine = make_engine(OutboxBackend(tmp_path / "o"), batch_size=5)

    report = engine.work()

    assert report.failed == [first]
    assert report.started == [second]
    statuses = _statuses()
    assert statuses[second] == ("sent", None)
    status, error = statuses[first]
    assert status == "failed"
    assert error is not None
    assert error.startswith("could not start: 2024-01-01-poisoned.md:4: title: contains U+001B")
    with session_scope() as session:
        view = service.get_send(session, first)
        assert session.scalars(select(Batch).where(Batch.send_id == first)).all() == []
        assert session.scalars(select(Delivery).where(Delivery.send_id == first)).all() == []
    assert view.errors == [error]
    assert len(list((tmp_path / "o").rglob("*.eml"))) == 12
    assert engine.work().failed == []  # never claimed again


def test_an_invalid_language_fails_each_send_alone_with_the_reason(
    db_url: str, tmp_path: Path
) -> None:
    clock.set_now(T0)
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, 3, topics=["learning-design"])
        first = _send(session, slug, T0 - timedelta(minutes=1))
        proof = service.create_test_send(session, slug, ["a@example.org"], now=T0).id
    engine = make_engine(OutboxBackend(tmp_path / "o"), lang="en_US")

    report = engine.work()

    assert sorted(report.failed) == sorted([first, proof])
    for status, error in _statuses().values():
        assert status == "failed"
        assert error == (
            "could not start: ValueError: lang: 'en_US' is not a BCP 47 language tag such "
            "as 'en' or 'en-US': write 'en-US'"
        )


def test_a_send_whose_ledger_cannot_be_written_fails_alone(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.set_now(T0)
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, 4, topics=["learning-design"])
        broken = _send(session, slug, T0 - timedelta(minutes=1))
        proof = service.create_test_send(session, slug, ["a@example.org"], now=T0).id
    real = snapshot._remaining

    def remaining(session: Session, send: Send) -> Any:
        if send.id == broken:
            raise ZeroDivisionError("a bug in one send's audience")
        return real(session, send)

    monkeypatch.setattr(snapshot, "_remaining", remaining)
    report = make_engine(OutboxBackend(tmp_path / "o")).work()

    assert report.failed == [broken]
    statuses = _statuses()
    assert statuses[broken] == (
        "failed",
        "could not write its ledger: ZeroDivisionError: a bug in one send's audience",
    )
    assert statuses[proof] == ("sent", None)


def test_the_weekly_slot_passes_over_a_poisoned_brief_and_keeps_it_in_line(
    db_url: str, tmp_path: Path
) -> None:
    sunday = datetime(2024, 1, 14, 12, 0, tzinfo=UTC)
    clock.set_now(sunday)
    with session_scope() as session:
        good = store_brief(session)  # coverage 2024-01-08
        poisoned_brief(session, coverage=date(2023, 12, 25))  # older: first in line
        add_people(session, 3, topics=["learning-design"])
        weekly.set_weekly_slot(
            session, day="mon", at="09:00", tz="America/New_York", local_time=False, now=sunday
        )
    engine = make_engine(OutboxBackend(tmp_path / "o"))
    clock.set_now(datetime(2024, 1, 15, 14, 0, 30, tzinfo=UTC))

    first = engine.tick().weekly_send
    assert engine.work().failed == [first]
    second = engine.tick().weekly_send  # the same occurrence: the next brief in line
    assert second is not None
    assert engine.work().started == [second]
    assert engine.tick().weekly_send is None  # one send per slot went ahead

    with session_scope() as session:
        sends = {s.id: s for s in session.scalars(select(Send))}
        assert (sends[first].brief.slug, sends[first].status) == (POISON, "failed")
        assert (sends[second].brief.slug, sends[second].status) == (good, "sent")
        # Nobody got the poisoned brief, so it is still in line (and fails alone again).
        assert [b.slug for b in weekly.queued_briefs(session)] == [POISON]
    clock.set_now(datetime(2024, 1, 22, 14, 1, tzinfo=UTC))
    third = engine.tick().weekly_send
    assert engine.work().failed == [third]
    assert engine.tick().weekly_send is None  # nothing else in line


def test_send_now_of_a_poisoned_brief_fails_with_the_reason_and_no_traceback() -> None:
    with session_scope() as session:
        poisoned_brief(session)
        add_people(session, 2, topics=["learning-design"])
    result = run_process(["send", POISON, "--now"])
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    send_id = int(lines[-1])  # the id, last, all the same
    assert f"send {send_id} (brief) of {POISON}: failed" in result.stdout
    assert "could not start: 2024-01-01-poisoned.md:4: title: contains U+001B" in result.stdout
    assert "Traceback" not in result.stderr


def test_with_sendgrid_a_brief_that_cannot_be_rendered_is_refused_before_the_send(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with session_scope() as session:
        poisoned_brief(session)
    monkeypatch.setenv("BRIEFMAIL_EMAIL_BACKEND", "sendgrid")
    monkeypatch.setenv("BRIEFMAIL_SENDGRID_API_KEY", "SG.unused")
    get_settings.cache_clear()
    code, _, err = run_cli(["send", POISON, "--now"], monkeypatch, capsys)
    assert code == 2  # the stored brief is refused as bad input, as `brief import` would
    assert "2024-01-01-poisoned.md:4: title: contains U+001B" in err
    assert "Traceback" not in err
    with session_scope() as session:
        assert session.scalars(select(Send)).all() == []


class _Stop(Exception):
    pass


def test_a_failing_tick_does_not_hold_up_due_work(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The in-process loop: a tick that raises (a bug in one of its reviews) is logged,
    and the send that is due still goes out in the same round."""
    from briefmail.sending.loop import run_forever

    clock.set_now(T0)
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, 3)
        send_id = _send(session, slug, T0)
    engine = make_engine(OutboxBackend(tmp_path / "outbox"))

    def broken_tick() -> None:
        raise RuntimeError("a bug in the weekly slot")

    def stop(_seconds: float) -> None:
        raise _Stop

    monkeypatch.setattr(engine, "tick", broken_tick)
    with pytest.raises(_Stop):
        run_forever(engine, tick_seconds=5, sleep=stop)
    assert _statuses()[send_id] == ("sent", None)
