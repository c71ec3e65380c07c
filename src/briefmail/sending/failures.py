"""A send that cannot be prepared fails alone, with its reason, and the rest go on.

Rendering a stored brief, checking it against a provider's limits or writing its
ledger can raise anything (a control character mjml-python refuses, an invalid
language tag, a bug): that failure belongs to the send, not to the worker. It is
stored on the send, shown by `sends show` and raised as an alarm, and the engine
takes the next due work instead of claiming the same send first on every tick.

Database errors are nobody's send's fault: they propagate, and the work is tried
again once the database answers (see `is_database_error`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from briefmail.db.dialect import begin_write, rowcount
from briefmail.db.models import Batch, Delivery, Send
from briefmail.errors import BriefmailError

MAX_REASON = 1000


def describe(exc: BaseException) -> str:
    """One line for people: briefmail's own errors speak for themselves, others are named."""
    text = str(exc) if isinstance(exc, BriefmailError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:MAX_REASON]


def first_line(exc: BaseException) -> str:
    """The first line of an error for a log line (database drivers append the
    statement, hints and a link)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:MAX_REASON]


def is_database_error(exc: BaseException) -> bool:
    return isinstance(exc, SQLAlchemyError)


def failed_at_start() -> ColumnElement[bool]:
    """SQL: the send failed before its ledger was begun, so nobody was put in line."""
    return and_(Send.status == "failed", Send.started_at.is_(None))


def went_ahead() -> ColumnElement[bool]:
    """SQL: the send counts as the brief's send (it did not fail before it started)."""
    return or_(Send.status != "failed", Send.started_at.is_not(None))


def fail_send(session: Session, send_id: int, error: str, *, now: datetime) -> bool:
    """Fail a scheduled or sending send with `error`; batches not yet claimed are
    cancelled with their queued recipients, so nobody's place for the brief is held.
    A batch already in flight finishes and records its answer. One transaction."""
    begin_write(session)
    failed = session.execute(
        update(Send)
        .where(Send.id == send_id, Send.status.in_(("scheduled", "sending")))
        .values(status="failed", error=error, finished_at=now, snapshot_by=None)
    )
    if rowcount(failed) != 1:
        session.rollback()
        return False
    pending = select(Batch.id).where(Batch.send_id == send_id, Batch.status == "pending")
    session.execute(
        update(Delivery)
        .where(Delivery.batch_id.in_(pending), Delivery.status == "queued")
        .values(status="cancelled", error="send failed")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Batch)
        .where(Batch.send_id == send_id, Batch.status == "pending")
        .values(status="cancelled", error="send failed", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return True
