"""`sends resolve --resend` against late provider events: never the same brief twice.

A batch whose request left without an answer is `unknown`; an operator who finds no
trace of it resolves it for resending. SendGrid may have taken it all the same, and
its events for that (earlier) attempt can come after the verdict. Events that arrive
before the resend is claimed stop it; events that arrive after it went out change
nothing but the deliveries' progress, forward only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from briefmail import clock
from briefmail.config import get_settings
from briefmail.db.models import Batch, Delivery, Subscriber
from briefmail.db.session import session_scope
from briefmail.sending import answers, claims, service
from briefmail.sending.backends.base import BatchResult, PermanentError
from briefmail.sending.backends.sendgrid import SendGridBackend
from briefmail.sending.engine import Engine
from briefmail.sending.retry import RetryPolicy
from briefmail.tracking.events import apply_events
from briefmail.tracking.sendgrid_events import parse_sendgrid
from tests.cli import run_cli
from tests.fakes.sendgrid_server import API_KEY, FakeSendGrid, exactly_once
from tests.sending.helpers import T0, add_people, make_engine, started_send, store_brief

AUDIENCE = 6


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server


def _engine(fake: FakeSendGrid) -> Engine:
    return make_engine(SendGridBackend(api_key=API_KEY, host=fake.url, timeout=0.3))


def _unknown_batch(fake: FakeSendGrid, engine: Engine) -> tuple[int, int, str]:
    """A send of one batch that SendGrid took but never answered: (send, batch, key)."""
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, AUDIENCE, topics=["learning-design"])
        send_id = service.create_send(session, slug, at=clock.now(), now=clock.now()).id
    fake.hold()  # the request arrives and is accepted; no answer comes
    service.drain_send(engine, send_id)
    fake.release()
    batch = _batch(send_id)
    assert batch.status == "unknown"
    assert len(fake.accepted) == AUDIENCE
    return send_id, batch.id, batch.attempt_key or ""


def _batch(send_id: int) -> Batch:
    with session_scope() as session:
        batch = session.scalars(select(Batch).where(Batch.send_id == send_id)).one()
        session.expunge(batch)
        return batch


def _deliveries(send_id: int) -> dict[str, str]:
    with session_scope() as session:
        rows = session.execute(
            select(Delivery.email, Delivery.status).where(Delivery.send_id == send_id)
        )
        return dict(rows.all())


def _events_of(fake: FakeSendGrid, key: str, event: str, **extra: Any) -> list[dict[str, Any]]:
    return [{**e, **extra} for e in fake.events(event) if e["attempt_key"] == key]


def _webhook(events: list[dict[str, Any]]) -> None:
    """What `POST /webhooks/sendgrid` does with a verified batch of events."""
    with session_scope() as session:
        apply_events(
            session, parse_sendgrid(json.dumps(events).encode()).events, received_at=clock.now()
        )


def _resolve_resend(batch_id: int, grace_seconds: float = 0.0) -> Batch:
    with session_scope() as session:
        batch = service.resolve_batch(
            session,
            batch_id,
            accepted=False,
            now=clock.now(),
            by="ops",
            grace_seconds=grace_seconds,
        )
        session.expunge(batch)
        return batch


# -- events for the earlier attempt arrive before the resend is claimed -----------------


@pytest.mark.parametrize("kind", ["processed", "deferred", "delivered", "bounce"])
def test_events_of_the_old_attempt_before_the_claim_stop_the_resend(
    db_url: str, fake: FakeSendGrid, kind: str
) -> None:
    engine = _engine(fake)
    send_id, batch_id, old_key = _unknown_batch(fake, engine)
    _resolve_resend(batch_id)  # the operator saw nothing in SendGrid's activity log (yet)
    # One event for one recipient is enough: a request is taken whole or not at all.
    _webhook(_events_of(fake, old_key, kind, type="bounce", reason="550 no such user")[:1])

    view = service.drain_send(engine, send_id)

    assert len(fake.requests) == 1  # no second request
    assert set(exactly_once(fake.accepted).values()) == {1}
    batch = _batch(send_id)
    assert (batch.status, batch.attempts, batch.attempt_key) == ("accepted", 1, old_key)
    assert batch.error is not None
    assert "not sent again" in batch.error
    assert f"earlier attempt {old_key} ({kind} at " in batch.error
    assert "resolved for resending by ops" in batch.error  # the verdict it overruled
    assert (view.status, view.accepted, view.failed, view.queued) == ("sent", AUDIENCE, 0, 0)
    assert view.errors == []
    assert len(view.notes) == 1
    assert "not sent again" in view.notes[0]
    statuses = sorted(_deliveries(send_id).values())
    first = {"processed": "accepted", "bounce": "bounced"}.get(kind, kind)
    assert statuses == sorted(["accepted"] * (AUDIENCE - 1) + [first])


def test_events_naming_an_attempt_the_batch_never_made_do_not_stop_it(
    db_url: str, fake: FakeSendGrid
) -> None:
    engine = _engine(fake)
    send_id, batch_id, old_key = _unknown_batch(fake, engine)
    _resolve_resend(batch_id)
    fake.reset()  # the operator was right: say nothing arrived the first time
    stray = [
        {**e, "attempt_key": "not-an-attempt-of-this-batch"}
        for e in _events_of(fake, old_key, "processed")
    ]
    _webhook(stray)
    view = service.drain_send(engine, send_id)
    assert (view.status, view.accepted) == ("sent", AUDIENCE)
    assert len(fake.accepted) == AUDIENCE  # resent, once
    assert _batch(send_id).error is None


def test_a_resend_waits_its_grace_period_and_late_events_stop_it(
    db_url: str, fake: FakeSendGrid, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    clock.set_now(T0)
    engine = _engine(fake)
    send_id, batch_id, old_key = _unknown_batch(fake, engine)
    clock.set_now(T0 + timedelta(seconds=40))
    monkeypatch.setenv("BRIEFMAIL_SEND_RESEND_GRACE_SECONDS", "600")
    get_settings.cache_clear()
    code, out, err = run_cli(
        ["sends", "resolve", str(batch_id), "--resend", "--by", "ops"], monkeypatch, capsys
    )
    assert code == 0, err
    assert f"batch {batch_id} of send {send_id}: pending" in out
    assert "resending at 2024-01-15T14:10:00+00:00 (in 9 min 20 s)" in out
    assert "events for the earlier attempt arriving before then settle it" in out
    assert clock.as_utc(_batch(send_id).due_at) == T0 + timedelta(seconds=600)

    clock.set_now(T0 + timedelta(seconds=300))
    assert engine.work().batches == {}  # not due yet
    # SendGrid's events, late and only some of them so far (it posts them in batches).
    _webhook(_events_of(fake, old_key, "processed")[:2])
    clock.set_now(T0 + timedelta(seconds=600))
    assert engine.work().batches == {batch_id: "accepted"}

    assert len(fake.requests) == 1
    code, out, err = run_cli(["sends", "show", str(send_id)], monkeypatch, capsys)
    assert code == 0, err
    assert "note: batch 1 accepted: accepted, not sent again" in out
    with session_scope() as session:
        assert service.get_send(session, send_id).status == "sent"


def test_a_resend_of_an_old_attempt_goes_at_once(
    db_url: str, fake: FakeSendGrid, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    clock.set_now(T0)
    engine = _engine(fake)
    _, batch_id, _ = _unknown_batch(fake, engine)
    fake.reset()
    clock.set_now(T0 + timedelta(hours=2))  # the grace counts from the attempt in doubt
    code, out, err = run_cli(["sends", "resolve", str(batch_id), "--resend"], monkeypatch, capsys)
    assert code == 0, err
    assert "pending; resending now" in out
    engine.work()
    assert len(fake.accepted) == AUDIENCE


def test_a_chain_of_unknown_attempts_remembers_every_key(db_url: str, fake: FakeSendGrid) -> None:
    engine = _engine(fake)
    send_id, batch_id, first_key = _unknown_batch(fake, engine)
    _resolve_resend(batch_id)
    fake.hold()  # the resend is taken and unanswered too
    service.drain_send(engine, send_id)
    fake.release()
    second = _batch(send_id)
    assert (second.status, second.earlier_attempt_keys) == ("unknown", [first_key])
    _resolve_resend(batch_id)
    # Only the first attempt's events ever come (its copies went; say the second's did not).
    _webhook(_events_of(fake, first_key, "delivered"))
    view = service.drain_send(engine, send_id)
    assert len(fake.requests) == 2  # not a third time
    batch = _batch(send_id)
    assert batch.status == "accepted"
    assert f"earlier attempt {first_key} (delivered" in (batch.error or "")
    assert (view.status, view.accepted) == ("sent", AUDIENCE)


# -- events for the earlier attempt arrive after the resend went out --------------------


def test_old_events_after_the_resend_went_out_only_move_deliveries_forward(
    db_url: str, fake: FakeSendGrid
) -> None:
    engine = _engine(fake)
    send_id, batch_id, old_key = _unknown_batch(fake, engine)
    _resolve_resend(batch_id)
    view = service.drain_send(engine, send_id)  # no events yet: it goes again
    assert (view.status, view.accepted) == ("sent", AUDIENCE)
    # The gap the grace period narrows: SendGrid had taken both requests.
    assert set(exactly_once(fake.accepted).values()) == {2}
    resent = _batch(send_id)
    new_key = resent.attempt_key
    assert new_key != old_key
    assert resent.earlier_attempt_keys == [old_key]
    with session_scope() as session:
        accepted_at = dict(
            session.execute(
                select(Delivery.id, Delivery.accepted_at).where(Delivery.send_id == send_id)
            ).all()
        )

    emails = sorted(e["email"] for e in _events_of(fake, old_key, "processed"))
    bounced, delivered = emails[0], emails[1:3]
    late = (
        _events_of(fake, old_key, "processed")
        + [e for e in _events_of(fake, old_key, "delivered") if e["email"] in delivered]
        + [
            e
            for e in _events_of(fake, old_key, "bounce", type="bounce", reason="550 gone")
            if e["email"] == bounced
        ]
    )
    _webhook(late)
    # Out of order and replayed: a deferral after delivery, and the same batch again.
    _webhook([e for e in _events_of(fake, old_key, "deferred") if e["email"] in delivered])
    _webhook(late)
    report = engine.tick()
    assert report.settled == {}

    batch = _batch(send_id)
    assert (batch.status, batch.attempt_key, batch.provider_message_id) == (
        "accepted",
        new_key,
        resent.provider_message_id,
    )
    assert batch.accepted_at == resent.accepted_at
    assert batch.error is None
    statuses = _deliveries(send_id)
    assert statuses[bounced] == "bounced"
    assert all(statuses[e] == "delivered" for e in delivered)
    assert sorted(statuses.values()).count("accepted") == AUDIENCE - 3
    with session_scope() as session:
        assert (
            session.scalars(select(Subscriber.status).where(Subscriber.email == bounced)).one()
            == "bounced"
        )
        after = dict(
            session.execute(
                select(Delivery.id, Delivery.accepted_at).where(Delivery.send_id == send_id)
            ).all()
        )
        view = service.get_send(session, send_id)
    assert after == accepted_at  # the resend's acceptance stands
    assert (view.status, view.accepted, view.failed, view.queued) == ("sent", AUDIENCE, 0, 0)
    engine.work()
    assert len(fake.requests) == 2  # nothing sent a third time


def test_old_events_while_the_resend_is_unanswered_settle_it_with_a_warning(
    db_url: str, fake: FakeSendGrid
) -> None:
    engine = _engine(fake)
    send_id, batch_id, old_key = _unknown_batch(fake, engine)
    _resolve_resend(batch_id)
    fake.hold()
    service.drain_send(engine, send_id)  # the resend is taken, unanswered: unknown again
    fake.release()
    new_key = _batch(send_id).attempt_key
    _webhook(_events_of(fake, old_key, "processed"))
    assert engine.tick().settled == {batch_id: "accepted"}
    batch = _batch(send_id)
    assert batch.status == "accepted"
    assert f"earlier attempt {old_key} (processed" in (batch.error or "")
    assert f"whether attempt {new_key} did too is unknown" in (batch.error or "")
    with session_scope() as session:
        view = service.get_send(session, send_id)
    assert (view.status, view.accepted) == ("sent", AUDIENCE)


# -- the ledger's own answers for an attempt already resolved ---------------------------


def _unknown_claim(send_id: int) -> claims.Claim:
    with session_scope() as session:
        claim = claims.claim_next_batch(session, now=T0, worker="w")
    assert isinstance(claim, claims.Claim)
    with session_scope() as session:
        assert answers.record_unknown(session, claim, "read timeout", T0)
    return claim


def test_a_slow_owners_answer_after_the_verdict_stops_the_resend(db_url: str) -> None:
    send_id = started_send(3)
    claim = _unknown_claim(send_id)
    clock.set_now(T0 + timedelta(seconds=60))
    _resolve_resend(claim.batch_id, grace_seconds=600)
    with session_scope() as session:  # the owner outlived its lease; the 202 comes now
        result = BatchResult(provider_message_id="late-202")
        assert answers.record_accepted(session, claim, result, T0 + timedelta(seconds=61))
    batch = _batch(send_id)
    assert (batch.status, batch.provider_message_id) == ("accepted", "late-202")
    with session_scope() as session:
        nothing = claims.claim_next_batch(session, now=T0 + timedelta(hours=1), worker="w")
    assert nothing is None
    assert set(_deliveries(send_id).values()) == {"accepted"}


def test_a_resend_that_fails_for_good_is_accepted_when_the_old_attempt_went_out(
    db_url: str,
) -> None:
    send_id = started_send(3)
    first = _unknown_claim(send_id)
    _resolve_resend(first.batch_id)
    with session_scope() as session:
        second = claims.claim_next_batch(session, now=T0, worker="w")
    assert isinstance(second, claims.Claim)
    with session_scope() as session:
        emails = dict(
            session.execute(
                select(Delivery.id, Delivery.email).where(Delivery.send_id == send_id)
            ).all()
        )
    # The first attempt's events arrive while the second is refused.
    _webhook(
        [
            {
                "event": "delivered",
                "email": email,
                "timestamp": int(T0.timestamp()) + 5,
                "sg_event_id": f"d{delivery_id}",
                "send_id": str(send_id),
                "batch_id": str(first.batch_id),
                "delivery_id": str(delivery_id),
                "attempt_key": first.attempt_key,
            }
            for delivery_id, email in emails.items()
        ][:1]
    )
    with session_scope() as session:
        status = answers.record_error(
            session,
            second,
            PermanentError("refused", status=400),
            now=T0,
            policy=RetryPolicy(3, 1.0),
            permanent=True,
        )
    assert status == "accepted"
    batch = _batch(send_id)
    assert batch.status == "accepted"
    assert "HTTP 400" in (batch.error or "")
    assert f"earlier attempt {first.attempt_key} (delivered" in (batch.error or "")
    assert sorted(_deliveries(send_id).values()) == ["accepted", "accepted", "delivered"]
