"""A send that cannot be prepared fails alone, with its reason, and the rest go on.

Rendering a stored brief, checking it against a provider's limits or writing its
ledger can raise anything (a control character mjml-python refuses, an invalid
language tag, a bug): that failure belongs to the send, not to the worker. It is
stored on the send (`send_states.fail_send`), shown by `sends show` and raised as
an alarm, and the engine takes the next due work instead of claiming the same send
first on every tick.

Database errors are nobody's send's fault: they propagate, and the work is tried
again once the database answers (see `is_database_error`).
"""

from __future__ import annotations

from sqlalchemy import or_
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from briefmail.db.models import Send, SendStatus
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


def went_ahead() -> ColumnElement[bool]:
    """SQL: the send counts as the brief's send (it did not fail before it started)."""
    return or_(Send.status != SendStatus.FAILED, Send.started_at.is_not(None))
