"""The fixed pipeline: tick finds work, work claims and sends, every answer recorded.

The same engine runs inside a Celery task, in `briefmail worker` without a broker,
and in the CLI's `send --now`: tasks are thin wrappers, so the embedded default needs
no server and the tests exercise the same code the workers run.

    tick(): create the weekly slot's send if due; settle batches whose owner's
            heartbeat stopped, and batches in doubt (events, or silence that is
            evidence: `doubt`); close finished sends; report how much work is due.
    work(): until nothing is due (or the time budget is spent): start a due send
            (snapshot), else claim a due batch and send it (unless the claim finds
            that an earlier attempt of it went out after all). A send that cannot be
            prepared fails alone; the next due work goes on.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from briefmail import clock
from briefmail.db.models import Batch, BatchStatus, Send, SendStatus
from briefmail.sending import (
    alarm_mail,
    alarms,
    answers,
    claims,
    doubt,
    failures,
    orphans,
    progress,
    send_states,
    sendgrid_limits,
    snapshot,
    weekly,
    worker_liveness,
)
from briefmail.sending.backends.base import (
    BatchResult,
    EmailBackend,
    OutgoingBatch,
    PermanentError,
    ProviderError,
    TransientError,
)
from briefmail.sending.batch_content import ContentCache, load_batch
from briefmail.sending.options import SendOptions

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TickReport:
    weekly_send: int | None = None
    settled: dict[int, BatchStatus] = field(default_factory=dict)  # batch id -> new status
    due: int = 0  # sends to start + batches to send, right now
    mailed: list[str] = field(default_factory=list)  # alarm incidents mailed


@dataclass(slots=True)
class WorkReport:
    started: list[int] = field(default_factory=list)  # sends snapshotted
    # batch id -> its new status, or why this worker's write changed nothing
    batches: dict[int, BatchStatus | claims.Overtaken] = field(default_factory=dict)
    failed: list[int] = field(default_factory=list)  # sends that could not be prepared


T = TypeVar("T")
Step = int | snapshot.StartFailed | claims.Claim | claims.Settled


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
        self.owner = worker_liveness.Owner(sessions, lease_seconds=options.lease_seconds)

    def tick(self) -> TickReport:
        report = TickReport()
        now = clock.now()
        with self.sessions() as session:
            report.weekly_send = weekly.fire_due_slot(session, now=now)
            report.settled.update(self._settle_orphans(session, now))
            for batch_id in doubt.settle_unknown_by_events(session, now=now):
                report.settled[batch_id] = BatchStatus.ACCEPTED
            report.settled.update(doubt.review(session, now=now, policy=self.options.doubt))
            for send_id in send_states.open_sends(session):
                send_states.finish_send(session, send_id, now)
            report.due = due_work(session, now=now, lease_seconds=self.options.lease_seconds)
        if report.settled:
            log.warning("settled batches in doubt: %s", report.settled)
        report.mailed = self._mail_alarms(now)
        return report

    def _mail_alarms(self, now: datetime) -> list[str]:
        """Mail new alarm incidents to BRIEFMAIL_ALERT_TO, if set (see `alarm_mail`)."""
        if not self.options.alert_to:
            return []
        with self.sessions() as session:
            standing = alarms.current(session, now=now, stall_seconds=self.options.stall_seconds)
        return alarm_mail.notify(
            self.sessions,
            self.backend,
            standing,
            to=self.options.alert_to,
            from_address=self.options.from_address,
            now=now,
            lease_seconds=self.options.lease_seconds,
        )

    def _settle_orphans(self, session: Session, now: datetime) -> dict[int, BatchStatus]:
        settled = {}
        found = orphans.find_orphans(session, now=now, lease_seconds=self.options.lease_seconds)
        for batch_id in found:
            outcome = orphans.settle_orphan(
                session,
                batch_id,
                now=now,
                backend_outcome=self.backend.orphan_outcome,
                why="its worker stopped during the request",
            )
            if not isinstance(outcome, claims.Overtaken):  # else another tick settled it
                settled[batch_id] = outcome
        return settled

    def work(
        self, *, budget_seconds: float = 60.0, wake: Callable[[], None] | None = None
    ) -> WorkReport:
        """Claim and send due work until none is left or the budget is spent.

        `wake` is called when this worker finds a batch (once) and after each chunk of
        a ledger it writes, so another worker can join in (a Celery task enqueues one
        more `work`): a send fans out over however many workers there are without
        counting them, and a woken worker that finds nothing just stops.

        One send that cannot be prepared fails alone (`failures`) and the loop goes on
        with the next due send and batch. The owner beats while this runs, and only
        while it does: every claim made here is settled before it returns.
        """
        report = WorkReport()
        deadline = time.monotonic() + budget_seconds
        woken = wake is None
        with self.owner.holding() as owner:
            while time.monotonic() < deadline:
                step = self._next(owner)
                if step is None:
                    break
                if isinstance(step, int):
                    self._write_ledger(step, owner, wake, report)
                elif isinstance(step, snapshot.StartFailed):
                    log.error("send %s failed to start: %s", step.send_id, step.reason)
                    report.failed.append(step.send_id)
                elif isinstance(step, claims.Settled):
                    # An earlier attempt went out after all: nothing to send.
                    log.warning("batch %s: %s", step.batch_id, step.reason)
                    report.batches[step.batch_id] = BatchStatus.ACCEPTED
                    self._refresh(step.send_id)
                else:
                    if not woken and wake is not None:
                        _wake(wake)
                        woken = True
                    report.batches[step.batch_id] = self.process(step)
        return report

    def _next(self, owner: str) -> Step | None:
        """The next piece of due work, claimed: a send to start, else a batch."""
        now = clock.now()
        with self.sessions() as session:
            started = snapshot.claim_due_send(
                session,
                now=now,
                options=self.options,
                owner=owner,
                check_fit=sendgrid_limits.applies_to(self.backend.name),
            )
            if started is not None:
                return started
            return claims.claim_next_batch(session, now=now, worker=owner)

    def _write_ledger(
        self, send_id: int, owner: str, wake: Callable[[], None] | None, report: WorkReport
    ) -> None:
        try:
            # Batches exist only once a chunk is written: wake helpers then.
            snapshot.write_ledger(
                self.sessions,
                send_id,
                owner=owner,
                batch_size=self.options.batch_size,
                on_chunk=(lambda: _wake(wake)) if wake is not None else None,
            )
        except Exception as exc:
            if failures.is_database_error(exc):
                raise  # not the send's fault: another worker takes the ledger over
            log.exception("send %s: could not write its ledger", send_id)
            reason = f"could not write its ledger: {failures.describe(exc)}"
            with self.sessions() as session:
                send_states.fail_send(session, send_id, reason, now=clock.now())
            report.failed.append(send_id)
            return
        self._refresh(send_id)
        report.started.append(send_id)

    def process(self, claim: claims.Claim) -> BatchStatus | claims.Overtaken:
        """Send one claimed batch and record the answer; returns the batch's new status."""
        try:
            with self.sessions() as session:
                batch = load_batch(session, claim, self.options, self.cache)
        except Exception as exc:  # nothing has left yet: retry later rather than strand it
            if failures.is_database_error(exc):
                log.warning("batch %s: not loaded: %s", claim.batch_id, failures.first_line(exc))
            else:
                log.exception("batch %s: could not load its recipients", claim.batch_id)
            error = TransientError(f"could not load the batch: {failures.describe(exc)}")
            return self._record(partial(self._error, claim=claim, error=error))
        batch = replace(batch, progress=lambda ids: self._progress(claim, ids))
        status = self._send(claim, batch)
        self._refresh(claim.send_id)
        return status

    def _send(self, claim: claims.Claim, batch: OutgoingBatch) -> BatchStatus | claims.Overtaken:
        try:
            # Everyone may have left since the snapshot: then there is nothing to hand over.
            result = self.backend.send_batch(batch) if batch.recipients else BatchResult()
        except (TransientError, PermanentError) as exc:
            return self._record(partial(self._error, claim=claim, error=exc))
        except ProviderError as exc:  # UnknownOutcomeError, or a backend's own kind
            why = exc.describe()
        except Exception as exc:  # a bug after claiming: the request may have left
            log.exception("batch %s: unexpected error while sending", claim.batch_id)
            why = f"unexpected error: {failures.describe(exc)}"
        else:
            ok = self._record(lambda s: answers.record_accepted(s, claim, result, clock.now()))
            return BatchStatus.ACCEPTED if ok else claims.Overtaken.STALE
        if self._record(lambda s: answers.record_unknown(s, claim, why, clock.now())):
            return BatchStatus.UNKNOWN
        return claims.Overtaken.STALE

    def _error(
        self, session: Session, claim: claims.Claim, error: ProviderError
    ) -> BatchStatus | claims.Overtaken:
        return answers.record_error(
            session,
            claim,
            error,
            now=clock.now(),
            policy=self.options.retry,
            rng=self.rng,
            permanent=isinstance(error, PermanentError),
        )

    def _progress(self, claim: claims.Claim, delivery_ids: frozenset[int]) -> None:
        self._record(lambda s: progress.record_progress(s, claim, delivery_ids, clock.now()))

    def _record(self, write: Callable[[Session], T]) -> T:
        """Commit what only this process knows (a provider's answer, who was handed
        over), retrying through a database outage for up to the lease: lost, it would
        leave the batch in doubt. Past that, the batch is settled as an orphan's."""
        delay, deadline = 0.5, time.monotonic() + self.options.lease_seconds
        while True:
            try:
                with self.sessions() as session:
                    return write(session)
            except DBAPIError as exc:
                if not _connection_lost(exc) or time.monotonic() + delay > deadline:
                    raise
                log.warning(
                    "database unavailable, retrying in %.1f s: %s", delay, failures.first_line(exc)
                )
                time.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _refresh(self, send_id: int) -> None:
        with self.sessions() as session:
            send_states.finish_send(session, send_id, clock.now())

    def run_until_idle(self, *, budget_seconds: float = 3600.0) -> WorkReport:
        """One tick, then work until nothing is due (in-process use)."""
        self.tick()
        return self.work(budget_seconds=budget_seconds)

    def close(self) -> None:
        self.backend.close()
        self.owner.stop()


def _wake(wake: Callable[[], None] | None) -> None:
    """Wake another worker; a broker that cannot take the message costs only speed
    (beat's tick finds the work anyway), never the send."""
    if wake is None:
        return
    try:
        wake()
    except Exception as exc:
        log.warning("could not wake another worker: %s", exc)


def _connection_lost(exc: DBAPIError) -> bool:
    return isinstance(exc, OperationalError) or bool(exc.connection_invalidated)


def due_work(session: Session, *, now: datetime, lease_seconds: float) -> int:
    """Sends to start or resume plus batches to send at `now` (a cheap count for the tick)."""
    batches = session.scalar(
        select(func.count())
        .select_from(Batch)
        .join(Send, Send.id == Batch.send_id)
        .where(
            Batch.status == BatchStatus.PENDING,
            Batch.due_at <= now,
            Send.status == SendStatus.SENDING,
        )
    )
    sends = sum(
        1
        for send in session.scalars(select(Send).where(Send.status == SendStatus.SCHEDULED))
        if snapshot.snapshot_at(send) <= now
    )
    stalled = session.scalar(
        select(func.count())
        .select_from(Send)
        .where(
            Send.status == SendStatus.SENDING,
            Send.snapshot_by.is_not(None),
            worker_liveness.silent(Send.snapshot_by, now=now, lease_seconds=lease_seconds),
        )
    )
    session.rollback()
    return int(batches or 0) + sends + int(stalled or 0)


def next_due(session: Session, send_id: int) -> datetime | None:
    """When the send's next pending batch is due (for waiting in-process)."""
    value = session.scalar(
        select(func.min(Batch.due_at)).where(
            Batch.send_id == send_id, Batch.status == BatchStatus.PENDING
        )
    )
    return clock.as_utc(value) if value is not None else None
