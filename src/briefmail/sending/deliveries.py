"""What a batch's move means for its recipients' rows (`Delivery`).

Only `queued` rows move here: a row the provider's events already moved forward
(delivered, bounced, ...) keeps what they said. Each function runs in the caller's
transaction, beside the batch's own move.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, or_, update
from sqlalchemy.orm import Session

from briefmail.db.dialect import rowcount
from briefmail.db.models import Delivery, Send, Subscriber, Suppression

MAX_ERROR = 2000


def settle_accepted(
    session: Session, batch_id: int, at: datetime, refused: Mapping[int, str] | None = None
) -> None:
    """The batch went out at `at`: its queued rows are accepted, except those the
    provider refused one by one (`refused`: delivery id -> reason), which failed."""
    for delivery_id, reason in (refused or {}).items():
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == "queued")
            .values(status="failed", error=reason[:MAX_ERROR])
        )
    session.execute(
        update(Delivery)
        .where(Delivery.batch_id == batch_id, Delivery.status == "queued")
        .values(status="accepted", accepted_at=at)
        .execution_options(synchronize_session=False)
    )


def accept_handed_over(session: Session, delivery_ids: Collection[int], at: datetime) -> None:
    """Rows a backend handed over one by one before the batch ended (SMTP)."""
    if delivery_ids:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(sorted(delivery_ids)), Delivery.status == "queued")
            .values(status="accepted", accepted_at=at)
        )


def fail_queued(session: Session, batch_id: int, error: str) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.batch_id == batch_id, Delivery.status == "queued")
        .values(status="failed", error=error[:MAX_ERROR])
        .execution_options(synchronize_session=False)
    )


def cancel_queued(session: Session, batches: int | Select[Any], error: str) -> None:
    """Cancel the queued rows of one batch, or of the batches `batches` selects."""
    of = (
        Delivery.batch_id == batches if isinstance(batches, int) else Delivery.batch_id.in_(batches)
    )
    session.execute(
        update(Delivery)
        .where(of, Delivery.status == "queued")
        .values(status="cancelled", error=error)
        .execution_options(synchronize_session=False)
    )


def drop_lapsed(session: Session, batch_id: int) -> int:
    """Cancel the batch's recipients who unsubscribed, bounced or were suppressed (or
    deleted) since the snapshot; the caller's transaction keeps it atomic with the claim."""
    subscriber = Subscriber.id == Delivery.subscriber_id
    lapsed = or_(
        exists().where(subscriber, Subscriber.status != "active"),
        exists().where(subscriber, Suppression.email_key == Subscriber.email_key),
        and_(
            Delivery.subscriber_id.is_(None),
            exists().where(Send.id == Delivery.send_id, Send.kind == "brief"),
        ),
    )
    result = session.execute(
        update(Delivery)
        .where(Delivery.batch_id == batch_id, Delivery.status == "queued", lapsed)
        .values(status="cancelled", error="no longer subscribed when its batch was sent")
        .execution_options(synchronize_session=False)
    )
    return int(rowcount(result))
