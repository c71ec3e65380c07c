"""The fixed pipeline: tick finds work, work claims and sends, every answer recorded.

The same engine runs inside a Celery task, in `briefmail worker` without a broker,
and in the CLI's `send --now`: tasks are thin wrappers, so the embedded default needs
no server and the tests exercise the same code the workers run.

    tick(): create the weekly slot's send if due; settle orphaned and unknown
            batches; close finished sends; report how much work is due.
    work(): until nothing is due (or the time budget is spent): start a due send
            (snapshot), else claim a due batch and send it (unless the claim finds
            that an earlier attempt of it went out after all).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from briefmail import clock
from briefmail.db.models import Batch, Send
from briefmail.sending import fit, ledger, owners, snapshot, weekly
from briefmail.sending.backends.base import (
    BatchResult,
    EmailBackend,
    PermanentError,
    ProviderError,
    TransientError,
)
from briefmail.sending.options import SendOptions
from briefmail.sending.outgoing import ContentCache, load_batch

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TickReport:
    weekly_send: int | None = None
    settled: dict[int, str] = field(default_factory=dict)  # batch id -> new status
    due: int = 0  # sends to start + batches to send, right now


@dataclass(slots=True)
class WorkReport:
    started: list[int] = field(default_factory=list)  # sends snapshotted
    batches: dict[int, str] = field(default_factory=dict)  # batch id -> outcome


class Engine:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        backend: EmailBackend,
        options: SendOptions,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.sessions = sessions
        self.backend = backend
        self.options = options
        self.rng = rng or random.Random()
        self.cache = ContentCache()

    def tick(self) -> TickReport:
        report = TickReport()
        now = clock.now()
        with self.sessions() as session:
            report.weekly_send = weekly.fire_due_slot(session, now=now)
            orphans = ledger.find_orphans(
                session, now=now, lease_seconds=self.options.lease_seconds, is_dead=owners.is_dead
            )
            for batch_id in orphans:
                outcome = ledger.settle_orphan(
                    session,
                    batch_id,
                    now=now,
                    backend_outcome=self.backend.orphan_outcome,
                    why="its worker stopped during the request",
                )
                if outcome != "gone":  # another tick settled it first
                    report.settled[batch_id] = outcome
            for batch_id in ledger.settle_unknown_by_events(session, now=now):
                report.settled[batch_id] = "accepted"
            for send_id in ledger.open_sends(session):
                ledger.refresh_send(session, send_id, now)
            report.due = due_work(session, now=now, lease_seconds=self.options.lease_seconds)
        if report.settled:
            log.warning("settled orphaned batches: %s", report.settled)
        return report

    def work(
        self, *, budget_seconds: float = 60.0, wake: Callable[[], None] | None = None
    ) -> WorkReport:
        """Claim and send due work until none is left or the budget is spent.

        `wake` is called when this worker finds a batch (once) and after each chunk of
        a ledger it writes, so another worker can join in (a Celery task enqueues one
        more `work`): a send fans out over however many workers there are without
        counting them, and a woken worker that finds nothing just stops.
        """
        report = WorkReport()
        deadline = time.monotonic() + budget_seconds
        woken = wake is None
        while time.monotonic() < deadline:
            now = clock.now()
            owner = owners.current_owner()
            with self.sessions() as session:
                send_id = snapshot.claim_due_send(
                    session,
                    now=now,
                    options=self.options,
                    owner=owner,
                    is_dead=owners.is_dead,
                    check_fit=fit.applies_to(self.backend.name),
                )
                claim = None
                if send_id is None:
                    claim = ledger.claim_next_batch(session, now=now, worker=owner)
            if send_id is None and claim is None:
                break
            if send_id is not None:
                # Batches exist only once a chunk is written: wake helpers then.
                snapshot.write_ledger(
                    self.sessions,
                    send_id,
                    owner=owner,
                    batch_size=self.options.batch_size,
                    on_chunk=wake,
                )
                with self.sessions() as session:
                    ledger.refresh_send(session, send_id, clock.now())
                report.started.append(send_id)
                continue
            assert claim is not None
            if isinstance(claim, ledger.Settled):
                # An earlier attempt went out after all: nothing to send, the send may be done.
                log.warning("batch %s: %s", claim.batch_id, claim.reason)
                report.batches[claim.batch_id] = "accepted"
                with self.sessions() as session:
                    ledger.refresh_send(session, claim.send_id, clock.now())
                continue
            if not woken and wake is not None:
                wake()
                woken = True
            report.batches[claim.batch_id] = self.process(claim)
        return report

    def process(self, claim: ledger.Claim) -> str:
        """Send one claimed batch and record the answer; returns the batch's new status."""
        status: str
        try:
            with self.sessions() as session:
                batch = load_batch(session, claim, self.options, self.cache)
        except Exception as exc:  # nothing has left yet: retry later rather than strand it
            log.exception("batch %s: could not load its recipients", claim.batch_id)
            with self.sessions() as session:
                status = ledger.record_error(
                    session,
                    claim,
                    TransientError(f"could not load the batch: {type(exc).__name__}: {exc}"),
                    now=clock.now(),
                    policy=self.options.retry,
                    rng=self.rng,
                    permanent=False,
                )
            return status
        try:
            # Everyone may have left since the snapshot: then there is nothing to hand over.
            result = self.backend.send_batch(batch) if batch.recipients else BatchResult()
        except (TransientError, PermanentError) as exc:
            with self.sessions() as session:
                status = ledger.record_error(
                    session,
                    claim,
                    exc,
                    now=clock.now(),
                    policy=self.options.retry,
                    rng=self.rng,
                    permanent=isinstance(exc, PermanentError),
                )
        except ProviderError as exc:  # UnknownOutcomeError, or a backend's own kind
            with self.sessions() as session:
                ledger.record_unknown(session, claim, exc.describe(), clock.now())
            status = "unknown"
        except Exception as exc:  # a bug after claiming: the request may have left
            log.exception("batch %s: unexpected error while sending", claim.batch_id)
            with self.sessions() as session:
                ledger.record_unknown(
                    session, claim, f"unexpected error: {type(exc).__name__}: {exc}", clock.now()
                )
            status = "unknown"
        else:
            with self.sessions() as session:
                ok = ledger.record_accepted(session, claim, result, clock.now())
            status = "accepted" if ok else "stale"
        with self.sessions() as session:
            ledger.refresh_send(session, claim.send_id, clock.now())
        return status

    def run_until_idle(self, *, budget_seconds: float = 3600.0) -> WorkReport:
        """One tick, then work until nothing is due (in-process use)."""
        self.tick()
        return self.work(budget_seconds=budget_seconds)

    def close(self) -> None:
        self.backend.close()


def due_work(session: Session, *, now: datetime, lease_seconds: float) -> int:
    """Sends to start or resume plus batches to send at `now` (a cheap count for the tick)."""
    batches = session.scalar(
        select(func.count())
        .select_from(Batch)
        .join(Send, Send.id == Batch.send_id)
        .where(Batch.status == "pending", Batch.due_at <= now, Send.status == "sending")
    )
    sends = sum(
        1
        for send in session.scalars(select(Send).where(Send.status == "scheduled"))
        if snapshot.snapshot_at(send) <= now
    )
    expired = now - timedelta(seconds=lease_seconds)
    stalled = sum(
        1
        for owner, at in session.execute(
            select(Send.snapshot_by, Send.snapshot_at).where(
                Send.status == "sending", Send.snapshot_by.is_not(None)
            )
        )
        if at is None or clock.as_utc(at) < expired or owners.is_dead(owner)
    )
    session.rollback()
    return int(batches or 0) + sends + stalled


def next_due(session: Session, send_id: int) -> datetime | None:
    """When the send's next pending batch is due (for waiting in-process)."""
    value = session.scalar(
        select(func.min(Batch.due_at)).where(Batch.send_id == send_id, Batch.status == "pending")
    )
    return clock.as_utc(value) if value is not None else None
