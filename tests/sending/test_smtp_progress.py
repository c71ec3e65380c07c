"""SMTP progress as it goes: a worker killed mid-batch leaves one group in doubt at most.

A real `briefmail send --now` process sends one 100-message batch to a real SMTP server
(aiosmtpd) that stops answering at the 47th message; the process is SIGKILLed there.
The first two groups of 20 were recorded as handed over; the 6 messages after them
reached the server unrecorded. The batch is settled as unknown once the dead worker's
heartbeat has stopped, and a resend covers only the 60 unrecorded recipients.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from briefmail import clock
from briefmail.config import get_settings
from briefmail.db.models import Batch, Delivery
from briefmail.db.session import session_scope
from briefmail.sending import claims, progress, service
from briefmail.sending.backends.base import BatchResult, OutgoingBatch
from briefmail.sending.backends.smtp import PROGRESS_GROUP, SmtpBackend
from briefmail.sending.options import SendOptions
from tests.cli import run_cli
from tests.sending.helpers import add_people, make_engine, started_send, store_brief
from tests.sending.test_backends import Catcher
from tests.web.server import free_port
from tests.worker.conftest import wait_until

AUDIENCE = 100
STALL_AT = 47  # the server takes 46 messages, then stops answering


class StallingCatcher:
    """Keeps every message; from message `stall_at` on, hangs before answering DATA
    (the message is not kept) until `release`."""

    def __init__(self, stall_at: int) -> None:
        self.stall_at = stall_at
        self.messages: list[str] = []
        self.stalled = threading.Event()
        self.gate: asyncio.Event | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if len(self.messages) + 1 >= self.stall_at:
            self.gate = self.gate or asyncio.Event()
            self.stalled.set()
            await self.gate.wait()
            return "451 try again later"
        self.messages.extend(envelope.rcpt_tos)
        return "250 Message accepted"


@pytest.fixture
def stalling() -> Iterator[tuple[StallingCatcher, int, Controller]]:
    handler = StallingCatcher(STALL_AT)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port, controller
    if handler.gate is not None:
        controller.loop.call_soon_threadsafe(handler.gate.set)
    controller.stop()


def _batch() -> Batch:
    with session_scope() as session:
        batch = session.scalars(select(Batch)).one()
        session.expunge(batch)
        return batch


def test_an_smtp_worker_killed_mid_batch_leaves_only_the_unrecorded_group_in_doubt(
    db_url: str,
    stalling: tuple[StallingCatcher, int, Controller],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    catcher, port, controller = stalling
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, AUDIENCE, topics=["learning-design"])
    smtp_url = f"smtp://127.0.0.1:{port}"
    env = dict(os.environ, BRIEFMAIL_EMAIL_BACKEND="smtp", BRIEFMAIL_SMTP_URL=smtp_url)
    worker = subprocess.Popen(
        [sys.executable, "-m", "briefmail", "send", slug, "--now"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert catcher.stalled.wait(timeout=120), "the worker never reached the stall"
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    assert len(catcher.messages) == STALL_AT - 1
    recorded = (STALL_AT - 1) // PROGRESS_GROUP * PROGRESS_GROUP  # 40: two whole groups
    with session_scope() as session:
        statuses = Counter(session.scalars(select(Delivery.status)))
    assert statuses == Counter({"accepted": recorded, "queued": AUDIENCE - recorded})
    assert _batch().status == "sending"

    # Another engine settles it once the dead worker's heartbeat has been silent a lease.
    clock.set_now(None)
    controller.loop.call_soon_threadsafe(catcher.gate.set)  # type: ignore[union-attr]
    catcher.stall_at = 10**6
    monkeypatch.setenv("BRIEFMAIL_EMAIL_BACKEND", "smtp")
    monkeypatch.setenv("BRIEFMAIL_SEND_RESEND_GRACE_SECONDS", "0")  # no events to wait for
    get_settings.cache_clear()
    doubt = SendOptions.from_settings(get_settings()).doubt  # what an SMTP engine knows
    engine = make_engine(SmtpBackend(smtp_url, timeout=10), lease_seconds=1, doubt=doubt)
    wait_until(lambda: engine.tick().settled != {}, timeout=30, what="the orphan settled")
    batch = _batch()
    assert batch.status == "unknown"
    code, out, err = run_cli(["sends", "show", str(batch.send_id)], monkeypatch, capsys)
    assert code == 0, err
    assert f"Now: {AUDIENCE - recorded} recipients not recorded as handed over" in out
    assert f"progress is recorded every {PROGRESS_GROUP} messages" in out

    code, out, err = run_cli(["sends", "resolve", str(batch.id), "--resend"], monkeypatch, capsys)
    assert code == 0, err
    view = service.drain_send(engine, batch.send_id)
    assert (view.status, view.accepted) == ("sent", AUDIENCE)
    counts = Counter(catcher.messages)
    assert len(counts) == AUDIENCE  # nobody dropped
    doubled = [email for email, n in counts.items() if n > 1]
    # Only the messages handed over after the last recorded group went twice.
    assert len(doubled) == STALL_AT - 1 - recorded <= PROGRESS_GROUP
    assert max(counts.values()) == 2


def test_progress_of_a_stale_attempt_records_nothing(db_url: str) -> None:
    send_id = started_send(10)
    with session_scope() as session:
        claim = claims.claim_next_batch(session, now=clock.now(), worker="w")
    assert isinstance(claim, claims.Claim)
    with session_scope() as session:
        ids = session.scalars(select(Delivery.id).where(Delivery.send_id == send_id)).all()
    with session_scope() as session:
        assert progress.record_progress(session, claim, ids[:4], clock.now()) == 4
    stale = claims.Claim(claim.batch_id, send_id, "another-attempt", 1, "w")
    with session_scope() as session:
        assert progress.record_progress(session, stale, ids[4:], clock.now()) == 0
    with session_scope() as session:
        statuses = Counter(
            session.scalars(select(Delivery.status).where(Delivery.send_id == send_id))
        )
    assert statuses == Counter({"accepted": 4, "queued": 6})


def test_smtp_reports_progress_in_groups(db_url: str) -> None:
    groups: list[int] = []

    class Watched(SmtpBackend):
        def send_batch(self, batch: OutgoingBatch) -> BatchResult:
            report = batch.progress
            assert report is not None  # the engine always asks for progress

            def watch(ids: frozenset[int]) -> None:
                groups.append(len(ids))
                report(ids)

            return super().send_batch(replace(batch, progress=watch))

    handler = Catcher(set())
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        send_id = started_send(45, batch_size=45)
        clock.set_now(None)
        engine = make_engine(Watched(f"smtp://127.0.0.1:{port}", timeout=10))
        view = service.drain_send(engine, send_id)
    finally:
        controller.stop()
    assert groups == [PROGRESS_GROUP, PROGRESS_GROUP]  # the last 5 with the batch's answer
    assert (view.status, view.accepted) == ("sent", 45)
    assert len(handler.messages) == 45
