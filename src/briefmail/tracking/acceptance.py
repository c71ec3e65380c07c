"""When each recipient's batch was accepted: the history the scanner window needs.

`ClickStore` keeps what it looked up (a batch accepted stays accepted), and most clicks
need no lookup at all: they come long after their send's last batch settled, when no
click can be in the window (`quiet_after`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.db.dialect import member_of
from briefmail.db.models import OPEN_BATCH, Batch, Delivery
from briefmail.tracking.bursts import Recipients, recipient
from briefmail.tracking.classifier import Reason
from briefmail.tracking.clicks import RawClick

_SETTLED_SKEW = 300.0  # seconds; see `quiet_after`


class AcceptanceTimes:
    """recipient (`bursts.recipient`) -> when its batch was accepted, POSIX seconds."""

    def __init__(self, *, window_seconds: int, max_remembered: int = 1_000_000) -> None:
        self.window_seconds = window_seconds
        self.max_remembered = max_remembered
        self._known: dict[int, float] = {}

    def for_clicks(
        self,
        session: Session,
        clicks: Sequence[RawClick],
        recipients: Recipients,
        reasons: Sequence[Reason | None],
    ) -> dict[int, float]:
        """Acceptance times covering every click the window may still catch (those not
        judged by a request rule yet); one small query on `batches` per call, and one
        delivery lookup only for sends still inside their window."""
        known = self._known
        candidates = [
            i
            for i, (who, reason) in enumerate(zip(recipients, reasons, strict=True))
            if reason is None and who is not None and who not in known
        ]
        if not candidates or self.window_seconds <= 0:
            return known
        quiet = quiet_after(session, {clicks[i].send_id for i in candidates}, self.window_seconds)
        wanted = set()
        for i in candidates:
            click = clicks[i]
            after = quiet.get(click.send_id)
            if after is None or click.clicked_at < after:
                wanted.add((click.send_id, click.subscriber_id))
        if wanted:
            if len(known) + len(wanted) > self.max_remembered:
                known.clear()
            accepted_at = func.coalesce(Batch.accepted_at, Delivery.accepted_at)
            rows = session.execute(
                select(Delivery.send_id, Delivery.subscriber_id, accepted_at)
                .outerjoin(Batch, Delivery.batch_id == Batch.id)
                .where(
                    member_of(session, Delivery.send_id, sorted({s for s, _ in wanted})),
                    member_of(
                        session,
                        Delivery.subscriber_id,
                        sorted({r for _, r in wanted if r is not None}),
                    ),
                )
            )
            for send_id, subscriber_id, at in rows:
                if at is not None and subscriber_id is not None:
                    known[recipient(send_id, subscriber_id)] = clock.as_utc(at).timestamp()
        return known


def quiet_after(session: Session, send_ids: set[int], window_seconds: int) -> dict[int, float]:
    """For each send whose batches are all settled: the time after which no click of it
    can be in the scanner window.

    A recipient's acceptance is recorded with its batch's last write (`updated_at`) or
    from a provider event stamped during that attempt; `_SETTLED_SKEW` covers the
    provider's clock and an attempt settled late. A send with a batch still open
    (pending, sending, unknown) may be accepted at any moment: no entry, look it up.
    """
    open_batches = func.sum(case((Batch.status.in_(OPEN_BATCH), 1), else_=0))
    rows = session.execute(
        select(Batch.send_id, func.max(Batch.updated_at), func.max(Batch.accepted_at))
        .where(member_of(session, Batch.send_id, sorted(send_ids)))
        .group_by(Batch.send_id)
        .having(open_batches == 0)
    )
    margin = _SETTLED_SKEW + window_seconds
    quiet: dict[int, float] = {}
    for send_id, updated_at, accepted_at in rows:
        last = max(clock.as_utc(t).timestamp() for t in (updated_at, accepted_at) if t is not None)
        quiet[send_id] = last + margin
    return quiet
