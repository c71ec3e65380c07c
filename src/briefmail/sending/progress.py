"""Recipients handed over while their batch is still being sent.

SMTP hands messages over one at a time, so a 1,000-message batch takes a while and a
crash in its middle used to leave all of it in doubt. Each group the backend reports
is committed at once; after a crash only the queued recipients remain for a resend,
and of those only the last group's may already have the message.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import exists, update
from sqlalchemy.orm import Session

from briefmail.db.dialect import begin_write, rowcount
from briefmail.db.models import Batch, BatchStatus, Delivery
from briefmail.sending.claims import Claim


def record_progress(
    session: Session, claim: Claim, delivery_ids: Collection[int], now: datetime
) -> int:
    """Mark these queued deliveries of the claimed batch accepted, provided the batch is
    still on this attempt (`sending`, or `unknown` to others while this owner lives on:
    what it handed over went all the same). Returns how many moved. Commits."""
    if not delivery_ids:
        return 0
    begin_write(session)
    this_attempt = exists().where(
        Batch.id == claim.batch_id,
        Batch.attempt_key == claim.attempt_key,
        Batch.status.in_((BatchStatus.SENDING, BatchStatus.UNKNOWN)),
    )
    moved = session.execute(
        update(Delivery)
        .where(
            Delivery.id.in_(sorted(delivery_ids)),
            Delivery.batch_id == claim.batch_id,
            Delivery.status == "queued",
            this_attempt,
        )
        .values(status="accepted", accepted_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return rowcount(moved)
