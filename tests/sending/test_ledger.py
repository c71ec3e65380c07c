"""The ledger's transactions: claims, lapsed recipients, orphans and their owners."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from briefmail import clock
from briefmail.audience.subscribers import unsubscribe
from briefmail.audience.suppression import suppress
from briefmail.db.models import Batch, Worker
from briefmail.db.session import session_factory, session_scope
from briefmail.sending import claims, service, worker_liveness
from briefmail.sending.backends.outbox import OutboxBackend
from briefmail.sending.backends.sendgrid import SendGridBackend
from briefmail.sending.batch_content import ContentCache, load_batch
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.sending.helpers import (
    T0,
    live_owner,
    make_engine,
    options,
    started_send,
)


def test_concurrent_claims_never_take_the_same_batch(db_url: str) -> None:
    started_send(200, batch_size=10)  # 20 batches
    sessions = session_factory()
    claimed: list[int] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while True:
            with sessions() as session:
                claim = claims.claim_next_batch(session, now=T0, worker=name)
            if claim is None:
                return
            with lock:
                claimed.append(claim.batch_id)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(set(claimed))
    assert len(claimed) == 20


def test_a_batch_is_due_only_when_all_its_recipients_are(db_url: str) -> None:
    send_id = started_send(5)
    with session_scope() as session:
        session.execute(
            update(Batch).where(Batch.send_id == send_id).values(due_at=T0 + timedelta(hours=1))
        )
    with session_scope() as session:
        assert claims.claim_next_batch(session, now=T0, worker="w") is None
    with session_scope() as session:
        assert claims.claim_next_batch(session, now=T0 + timedelta(hours=1), worker="w") is not None


def test_who_left_after_the_snapshot_is_not_sent(db_url: str, tmp_path: Path) -> None:
    send_id = started_send(4)
    with session_scope() as session:
        unsubscribe(session, "reader0@example.org")
        suppress(session, "reader1@example.org", "hard bounce")
    view = service.drain_send(make_engine(OutboxBackend(tmp_path / "o")), send_id)
    assert (view.accepted, view.cancelled, view.status) == (2, 2, "sent")
    assert len(list((tmp_path / "o").rglob("*.eml"))) == 2


def _orphan(send_id: int, owner: str) -> int:
    with session_scope() as session:
        claim = claims.claim_next_batch(session, now=T0, worker=owner)
        assert claim is not None
        return claim.batch_id


def test_an_orphan_is_taken_only_once_its_owners_heartbeat_stops(
    db_url: str, tmp_path: Path
) -> None:
    send_id = started_send(3)
    owner = worker_liveness.Owner(session_factory(), lease_seconds=60)
    owner.beat()
    batch_id = _orphan(send_id, owner.id)
    engine = make_engine(OutboxBackend(tmp_path / "o"), lease_seconds=60)
    assert engine.tick().settled == {}
    # Long past the lease since the claim, but the owner still beats: it is working.
    clock.set_now(T0 + timedelta(seconds=600))
    owner.beat()
    assert engine.tick().settled == {}
    # Then it falls silent for a lease: the outbox shows nothing sent, so it goes again.
    clock.set_now(T0 + timedelta(seconds=661))
    assert engine.tick().settled == {batch_id: "pending"}


def test_a_dead_owners_outbox_batch_is_settled_from_the_files(db_url: str, tmp_path: Path) -> None:
    send_id = started_send(3)
    outbox = OutboxBackend(tmp_path / "o")
    dead = live_owner()  # beats at T0, then its process dies
    batch_id = _orphan(send_id, dead)
    # The dead worker had written every file before dying.
    engine = make_engine(outbox)
    with session_scope() as session:
        batch = session.get_one(Batch, batch_id)
        claim = claims.Claim(batch_id, send_id, batch.attempt_key or "", 1, dead)
        outbox.send_batch(load_batch(session, claim, options(), ContentCache()))
    clock.set_now(T0 + timedelta(seconds=301))  # no beat for a lease: it is gone
    assert engine.tick().settled == {batch_id: "accepted"}
    with session_scope() as session:
        assert service.get_send(session, send_id).status == "sent"
    assert len(list((tmp_path / "o").rglob("*.eml"))) == 3


def test_a_stopped_owner_is_known_at_once_and_a_live_one_in_the_same_process_is_not(
    db_url: str,
) -> None:
    # Two engines in one process share host and pid (as containers sharing a PID
    # namespace and a host name do): only the instance ids and heartbeats tell them apart.
    send_id = started_send(20)  # 2 batches
    alive = worker_liveness.Owner(session_factory(), lease_seconds=300)
    gone = worker_liveness.Owner(session_factory(), lease_seconds=300)
    alive.beat()
    gone.beat()
    mine = _orphan(send_id, alive.id)
    orphan = _orphan(send_id, gone.id)
    gone.stop()
    with FakeSendGrid() as fake:
        engine = make_engine(SendGridBackend(api_key="x", host=fake.url, timeout=1))
        report = engine.tick()  # no lease has run out, but one owner is provably gone
    assert report.settled == {orphan: "unknown"}
    with session_scope() as session:
        error = session.get_one(Batch, orphan).error or ""
        assert session.get_one(Batch, mine).status == "sending"
    assert f"briefmail sends resolve {orphan} --accepted" in error
    assert "--resend" in error
    assert gone.id in error  # the worker named by its instance id


def test_an_engine_beats_while_it_works_and_stops_cleanly(db_url: str, tmp_path: Path) -> None:
    send_id = started_send(5)
    engine = make_engine(OutboxBackend(tmp_path / "o"))
    clock.set_now(None)
    assert service.drain_send(engine, send_id).status == "sent"
    with session_scope() as session:
        row = session.get_one(Worker, engine.owner.id)
        assert row.stopped_at is None
        assert set(session.scalars(select(Batch.claimed_by))) == {engine.owner.id}
    engine.close()
    with session_scope() as session:
        assert session.get_one(Worker, engine.owner.id).stopped_at is not None
