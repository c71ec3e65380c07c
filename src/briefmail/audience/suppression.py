"""The suppression list: addresses no send may ever reach.

It is keyed by `email_key`, not by subscriber, so it holds even for addresses that
are not (or no longer) subscribers, and no import can undo it: imports skip
suppressed addresses they do not know, and segments anti-join this table. Hard
bounces and spam reports land here (the webhook), as do manual blocks. A plain
unsubscribe does not: the `unsubscribed` status already stops every send, and the
person may subscribe again through the confirmation flow.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.audience._sql import SUPPRESSIONS
from briefmail.audience.subscribers import normalise_email
from briefmail.db.dialect import insert_ignoring
from briefmail.db.models import Suppression
from briefmail.errors import InvalidInputError

_MAX_REASON = 200


@dataclass(frozen=True, slots=True)
class SuppressResult:
    suppression: Suppression
    created: bool  # False: it was already suppressed (the first reason is kept)


def suppress(session: Session, email: str, reason: str) -> SuppressResult:
    """Add `email` to the suppression list; suppressing it again keeps the first entry."""
    address, key = normalise_email(email)
    reason = reason.strip()
    if not reason:
        raise InvalidInputError("a suppression needs a reason")
    if len(reason) > _MAX_REASON:
        raise InvalidInputError(f"reason is over {_MAX_REASON} characters")
    existing = session.get(Suppression, key)
    if existing is not None:
        return SuppressResult(existing, created=False)
    session.execute(
        insert_ignoring(session, SUPPRESSIONS, ["email_key"]).values(
            email_key=key, email=address, reason=reason, created_at=clock.now()
        )
    )
    row = session.get(Suppression, key)
    if row is None:  # pragma: no cover - the row was just written
        raise RuntimeError(f"suppression of {key} vanished")
    return SuppressResult(row, created=True)


def is_suppressed(session: Session, email: str) -> bool:
    _, key = normalise_email(email)
    return session.get(Suppression, key) is not None
