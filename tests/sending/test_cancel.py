"""Cancelling a send stops what has not gone yet and strands nobody in the ledger.

A batch in flight finishes; one refused after the cancel, or whose dead owner's
request provably did not leave, is cancelled with its queued recipients, so their
place for the brief is free for a later send.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select

from briefmail import clock
from briefmail.db.models import Batch, Delivery
from briefmail.db.session import session_scope
from briefmail.sending import claims, service
from briefmail.sending.backends.outbox import OutboxBackend
from briefmail.sending.backends.sendgrid import SendGridBackend
from briefmail.sending.engine import Engine
from tests.fakes.sendgrid_server import API_KEY, FakeSendGrid, exactly_once
from tests.sending.helpers import SLUG, T0, live_owner, make_engine, started_send


def cancel_in_flight(fake: FakeSendGrid, send_id: int, status: int, **answer: Any) -> Engine:
    """Work the send: the first batch is accepted, and the send is cancelled while the
    second is in flight; SendGrid then answers it `status`. Returns the engine."""
    engine = make_engine(SendGridBackend(api_key=API_KEY, host=fake.url, timeout=30))
    fake.plan(202)
    fake.plan(status, hold=True, **answer)
    worker = threading.Thread(target=engine.work)
    worker.start()
    assert fake.wait_for_requests(2)
    with session_scope() as session:
        assert service.cancel_send(session, send_id, now=clock.now()).status == "cancelled"
    fake.release()
    worker.join(timeout=60)
    return engine


def test_cancel_stops_pending_batches_and_lets_the_one_in_flight_finish(db_url: str) -> None:
    send_id = started_send(30)  # 3 batches
    clock.set_now(None)
    with FakeSendGrid() as fake:
        cancel_in_flight(fake, send_id, 202)  # the second batch finishes
    with session_scope() as session:
        view = service.get_send(session, send_id)
        batches = Counter(session.scalars(select(Batch.status).where(Batch.send_id == send_id)))
    assert batches == Counter({"accepted": 2, "cancelled": 1})
    assert (view.status, view.accepted, view.cancelled) == ("cancelled", 20, 10)
    assert len(fake.accepted) == 20
    assert view.finished_at is not None


def _queued(send_id: int) -> int:
    with session_scope() as session:
        return len(
            session.scalars(
                select(Delivery.id).where(Delivery.send_id == send_id, Delivery.status == "queued")
            ).all()
        )


def test_a_batch_refused_with_429_after_cancel_is_cancelled_and_a_resend_reaches_them(
    db_url: str,
) -> None:
    send_id = started_send(30)  # 3 batches
    clock.set_now(None)
    with FakeSendGrid() as fake:
        engine = cancel_in_flight(fake, send_id, 429, retry_after=1)  # then refused
        with session_scope() as session:
            batches = Counter(session.scalars(select(Batch.status).where(Batch.send_id == send_id)))
        # The refused batch went nowhere: it is cancelled, not left pending for ever
        # with its recipients queued (which holds their place for this brief).
        assert batches == Counter({"accepted": 1, "cancelled": 2})
        assert _queued(send_id) == 0
        with session_scope() as session:
            again = service.create_send(session, SLUG, at=clock.now(), now=clock.now()).id
        view = service.drain_send(engine, again)
        assert (view.status, view.accepted) == ("sent", 20)
        assert len(fake.accepted) == 30
        assert set(exactly_once(fake.accepted).values()) == {1}


def test_an_orphan_of_a_cancelled_send_that_was_not_sent_is_cancelled(
    db_url: str, tmp_path: Path
) -> None:
    send_id = started_send(20)  # 2 batches
    with session_scope() as session:
        claim = claims.claim_next_batch(session, now=T0, worker=live_owner())
    assert claim is not None
    with session_scope() as session:
        service.cancel_send(session, send_id, now=T0)
    clock.set_now(T0.replace(hour=T0.hour + 1))  # the lease has run out
    engine = make_engine(OutboxBackend(tmp_path / "o"))  # no files: provably not sent
    assert engine.tick().settled == {claim.batch_id: "cancelled"}
    assert _queued(send_id) == 0
    with session_scope() as session:
        assert service.get_send(session, send_id).finished_at is not None
