"""The ledger is written in chunks; a writer that dies is replaced, nobody is lost or doubled."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from briefmail import clock
from briefmail.db.models import Batch, Delivery, Send
from briefmail.db.session import session_factory, session_scope
from briefmail.sending import service, snapshot
from briefmail.sending.backends.outbox import OutboxBackend
from tests.sending.helpers import (
    T0,
    add_people,
    dead_owner,
    live_owner,
    make_engine,
    options,
    store_brief,
)


def _claimed_send(count: int, owner: str) -> int:
    clock.set_now(T0)
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, count, topics=["learning-design"])
        add_people(session, 7, prefix="off", topics=["clinical-ai"])
        send_id = service.create_send(session, slug, at=T0, now=T0).id
    with session_scope() as session:
        got = snapshot.claim_due_send(session, now=T0, options=options(), owner=owner)
    assert got == send_id
    return send_id


def test_a_writer_that_dies_mid_ledger_is_replaced_and_nobody_is_lost_or_doubled(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.set_now(T0)
    dead = dead_owner()  # its heartbeat stopped: a writer gone
    send_id = _claimed_send(250, dead)
    real = snapshot._write_chunk
    calls = {"n": 0}

    def dies_on_second_chunk(*args: object, **kwargs: object) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("the worker is killed")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(snapshot, "_write_chunk", dies_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        snapshot.write_ledger(session_factory(), send_id, owner=dead, batch_size=10)
    monkeypatch.setattr(snapshot, "_write_chunk", real)
    with session_scope() as session:
        assert session.scalar(select(func.count()).where(Delivery.send_id == send_id)) == 100
        assert session.get_one(Send, send_id).snapshot_by == dead

    engine = make_engine(OutboxBackend(tmp_path / "o"), batch_size=10)
    # The first chunk's batches go out; the send must not be called finished early.
    view = service.drain_send(engine, send_id)
    assert (view.status, view.recipients, view.accepted) == ("sent", 250, 250)
    with session_scope() as session:
        people = Counter(
            session.scalars(select(Delivery.subscriber_id).where(Delivery.send_id == send_id))
        )
        seqs = sorted(session.scalars(select(Batch.seq).where(Batch.send_id == send_id)))
        assert session.get_one(Send, send_id).snapshot_by is None
    assert len(people) == 250
    assert set(people.values()) == {1}
    assert seqs == list(range(1, 26))
    assert len(list((tmp_path / "o").rglob("*.eml"))) == 250


def test_a_send_is_not_finished_while_its_ledger_is_being_written(
    db_url: str, tmp_path: Path
) -> None:
    clock.set_now(T0)
    owner = live_owner()  # alive: nobody takes over
    send_id = _claimed_send(30, owner)
    engine = make_engine(OutboxBackend(tmp_path / "o"))
    engine.tick()
    with session_scope() as session:
        view = service.get_send(session, send_id)
    assert (view.status, view.recipients) == ("sending", 0)
    snapshot.write_ledger(session_factory(), send_id, owner=owner, batch_size=1000)
    assert service.drain_send(engine, send_id).status == "sent"


def test_cancel_stops_a_ledger_being_written(db_url: str) -> None:
    clock.set_now(T0)
    owner = live_owner()
    send_id = _claimed_send(30, owner)
    with session_scope() as session:
        service.cancel_send(session, send_id, now=T0)
    assert snapshot.write_ledger(session_factory(), send_id, owner=owner, batch_size=10) == 0
    with session_scope() as session:
        assert session.get_one(Send, send_id).status == "cancelled"
        assert session.scalar(select(func.count()).where(Delivery.send_id == send_id)) == 0
