"""What the dashboard raises as an alarm, from the data the ledger holds today.

`dashboard_alarms` is the one seam: issue 12's alarms service (failed, stalled, a
missed weekly slot) replaces its body at merge, and the dashboard does not change.
Until then it reports what needs a person now: sends that failed recently, and
sends with a batch whose outcome a crash left unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from briefmail.db.models import Batch, Send

RECENT = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class Alarm:
    kind: str  # "failed" or "in-doubt"
    send_id: int
    brief: str
    message: str


def dashboard_alarms(session: Session, *, now: datetime) -> list[Alarm]:
    """Failed sends of the last two weeks and sends with a batch in doubt, newest first."""
    in_doubt = select(Batch.send_id).where(Batch.status == "unknown")
    rows = session.scalars(
        select(Send)
        .where(
            or_(
                (Send.status == "failed") & (Send.created_at >= now - RECENT),
                Send.id.in_(in_doubt),
            )
        )
        .order_by(Send.id.desc())
        .limit(20)
    )
    alarms = []
    for send in rows:
        if send.status == "failed":
            reason = send.error or "see its batches"
            alarms.append(Alarm("failed", send.id, send.brief.slug, f"failed: {reason}"))
        else:
            alarms.append(
                Alarm(
                    "in-doubt",
                    send.id,
                    send.brief.slug,
                    "a batch's outcome is unknown: mark it accepted or resend it",
                )
            )
    return alarms
