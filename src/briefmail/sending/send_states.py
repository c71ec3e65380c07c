"""The send state machine: its table, its one writer, and every move a send makes.

A send is created `scheduled`, started (`sending`) by the worker that renders it and
writes its ledger, and ends `sent` or `failed` once none of its batches is open and
its ledger is written, or `failed`/`cancelled` at once by a failure or an operator.
Each of those moves is a function here, and each writes the status through
`move_sends`, a conditional UPDATE built from `SEND`: a send can only move as the
table says, and a move that finds the send elsewhere changes nothing. A cancelled or
failed send's batches not yet claimed are cancelled with it (`batch_states`); a batch
in flight finishes and records its answer.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from briefmail.db.dialect import begin_write, lock_rows, rowcount
from briefmail.db.models import OPEN_BATCH, Batch, BatchStatus, Send, SendStatus
from briefmail.errors import NotFoundError, StateError
from briefmail.sending import deliveries
from briefmail.sending.batch_states import BatchEvent, move_batches
from briefmail.sending.state_machine import Machine, edges

__all__ = [
    "SEND",
    "SendEvent",
    "SendStatus",
    "cancel_send",
    "fail_send",
    "finish_send",
    "move_sends",
    "new_send",
    "start_send",
]


class SendEvent(StrEnum):
    START = "start"
    CANNOT_PREPARE = "cannot-prepare"
    CANCEL = "cancel"
    FINISH = "finish"


Sch, Sng, Snt, F, C = (
    SendStatus.SCHEDULED,
    SendStatus.SENDING,
    SendStatus.SENT,
    SendStatus.FAILED,
    SendStatus.CANCELLED,
)

SEND: Machine[SendStatus, SendEvent] = Machine(
    name="send",
    initial=Sch,
    edges=edges(
        (Sch, SendEvent.START, Sng),
        (Sch, SendEvent.CANNOT_PREPARE, F),
        (Sng, SendEvent.CANNOT_PREPARE, F),
        (Sch, SendEvent.CANCEL, C),
        (Sng, SendEvent.CANCEL, C),
        (Sng, SendEvent.FINISH, Snt),
        (Sng, SendEvent.FINISH, F),
    ),
    causes={
        SendEvent.START: "a worker renders the due send, stores the email and begins "
        "writing its ledger",
        SendEvent.CANNOT_PREPARE: "it cannot be rendered, does not fit the provider's "
        "limits, or its ledger cannot be written: it fails alone",
        SendEvent.CANCEL: "an operator cancels it",
        SendEvent.FINISH: "its ledger is written and no batch is open: `sent`, or "
        "`failed` when a batch failed",
    },
)


def move_sends(
    session: Session,
    where: ColumnElement[bool],
    *,
    by: SendEvent,
    to: SendStatus,
    **values: Any,
) -> int:
    """Move the sends matching `where` to `to` by the edge `by`: only those in a status
    the table moves to `to` by `by`. Returns how many moved; raises `TransitionError`
    (and writes nothing) for an edge the table does not have. In the caller's
    transaction."""
    if "status" in values:
        raise TypeError("the status is `to`, not a value")
    sources = SEND.sources(by, to)
    moved = session.execute(
        update(Send).where(where, Send.status.in_(sources)).values(status=to, **values)
    )
    return rowcount(moved)


def new_send(**fields: Any) -> Send:
    """A send row in the machine's first status (the caller adds it to the session)."""
    return Send(status=SEND.initial, **fields)


def start_send(session: Session, send_id: int, *, now: datetime, owner: str, **email: Any) -> bool:
    """A due send, rendered: store its email, and name `owner` as its ledger's writer."""
    moved = move_sends(
        session,
        Send.id == send_id,
        by=SendEvent.START,
        to=SendStatus.SENDING,
        started_at=now,
        snapshot_by=owner,
        snapshot_at=now,
        **email,
    )
    return moved == 1


def _stop_unclaimed(session: Session, send_id: int, *, failed: bool, now: datetime) -> None:
    """Cancel the send's batches not yet claimed, with their queued recipients, so
    nobody's place for the brief is held by a send that will not go on."""
    why = "send failed" if failed else "send cancelled"
    pending = select(Batch.id).where(Batch.send_id == send_id, Batch.status == BatchStatus.PENDING)
    deliveries.cancel_queued(session, pending, why)
    stopped = Batch.send_id == send_id
    if failed:
        move_batches(
            session,
            stopped,
            by=BatchEvent.SEND_FAILED,
            to=BatchStatus.CANCELLED,
            error=why,
            updated_at=now,
        )
    else:
        move_batches(
            session,
            stopped,
            by=BatchEvent.CANCEL,
            to=BatchStatus.CANCELLED,
            error=why,
            updated_at=now,
        )


def fail_send(session: Session, send_id: int, error: str, *, now: datetime) -> bool:
    """Fail a scheduled or sending send with `error`; batches not yet claimed are
    cancelled with their queued recipients, so nobody's place for the brief is held.
    A batch already in flight finishes and records its answer. One transaction."""
    begin_write(session)
    failed = move_sends(
        session,
        Send.id == send_id,
        by=SendEvent.CANNOT_PREPARE,
        to=SendStatus.FAILED,
        error=error,
        finished_at=now,
        snapshot_by=None,
    )
    if failed != 1:
        session.rollback()
        return False
    _stop_unclaimed(session, send_id, failed=True, now=now)
    session.commit()
    return True


def cancel_send(session: Session, send_id: int, *, now: datetime) -> Send:
    """Stop what has not gone yet; a batch already in flight finishes."""
    begin_write(session)
    send = session.execute(
        lock_rows(session, select(Send).where(Send.id == send_id), Send)
    ).scalar_one_or_none()
    if send is None:
        session.rollback()
        raise NotFoundError(f"no send {send_id}")
    if send.status not in SEND.sources(SendEvent.CANCEL, SendStatus.CANCELLED):
        status = send.status
        session.rollback()
        raise StateError(
            f"send {send_id} is {status}; only a scheduled or sending send can be cancelled"
        )
    _stop_unclaimed(session, send_id, failed=False, now=now)
    in_flight = session.scalar(
        select(func.count()).where(Batch.send_id == send_id, Batch.status == BatchStatus.SENDING)
    )
    done: dict[str, Any] = {} if in_flight else {"finished_at": now}
    move_sends(
        session,
        Send.id == send_id,
        by=SendEvent.CANCEL,
        to=SendStatus.CANCELLED,
        cancelled_at=now,
        snapshot_by=None,  # a ledger still being written stops at its next chunk
        **done,
    )
    session.commit()
    return session.get_one(Send, send_id)


def finish_send(session: Session, send_id: int, now: datetime) -> SendStatus:
    """End the send once none of its batches is open and its ledger is written: `sent`,
    or `failed` naming its failed batches; a cancelled send's end is noted once its
    batch in flight has ended. Returns the send's status."""
    # Cheap look first, without the lock: while batches are open there is nothing to do,
    # and workers finishing batches must not queue up on the send row.
    status, writing = session.execute(
        select(Send.status, Send.snapshot_by).where(Send.id == send_id)
    ).one()
    still_open = session.scalar(
        select(func.count()).where(Batch.send_id == send_id, Batch.status.in_(OPEN_BATCH))
    )
    session.rollback()
    if status == SendStatus.SENDING and (still_open or writing is not None):
        return SendStatus(status)
    begin_write(session)
    status, writing, finished = session.execute(
        lock_rows(
            session,
            select(Send.status, Send.snapshot_by, Send.finished_at).where(Send.id == send_id),
            Send,
        )
    ).one()
    counts = dict(
        session.execute(
            select(Batch.status, func.count())
            .where(Batch.send_id == send_id)
            .group_by(Batch.status)
        ).all()
    )
    open_count = sum(counts.get(s, 0) for s in OPEN_BATCH)
    this = Send.id == send_id
    if status == SendStatus.CANCELLED:
        if finished is None and not counts.get(BatchStatus.SENDING):
            session.execute(update(Send).where(this).values(finished_at=now))
    elif status == SendStatus.SENDING and writing is None and not open_count:
        errors = failed_batch_errors(session, send_id)
        if errors:
            move_sends(
                session,
                this,
                by=SendEvent.FINISH,
                to=SendStatus.FAILED,
                error="\n".join(errors),
                finished_at=now,
            )
        else:
            move_sends(
                session, this, by=SendEvent.FINISH, to=SendStatus.SENT, error=None, finished_at=now
            )
    final = session.execute(select(Send.status).where(this)).scalar_one()
    session.commit()
    return final


def cancelled_under_lock(session: Session, send_id: int) -> bool:
    """Whether the send is cancelled, read under its row lock: a concurrent cancel is
    either seen here or sees what this transaction writes (it cancels pending batches
    after taking the lock)."""
    status = session.execute(
        lock_rows(session, select(Send.status).where(Send.id == send_id), Send)
    ).scalar_one()
    return bool(status == SendStatus.CANCELLED)


def failed_batch_errors(session: Session, send_id: int) -> list[str]:
    rows = session.execute(
        select(Batch.seq, Batch.error)
        .where(Batch.send_id == send_id, Batch.status == BatchStatus.FAILED)
        .order_by(Batch.seq)
    )
    return [f"batch {seq}: {error or 'failed'}" for seq, error in rows]


def open_sends(session: Session) -> list[int]:
    """Sends still running, and cancelled ones whose batch in flight has not yet ended."""
    unfinished = and_(Send.status == SendStatus.CANCELLED, Send.finished_at.is_(None))
    running = or_(Send.status == SendStatus.SENDING, unfinished)
    return list(session.scalars(select(Send.id).where(running)))
