"""Classifying and storing batches of clicks (`ClickStore`).

Storing classifies each click with the history at hand: the rules that need only the
request (`classifier.request_reason`, memoised per distinct request), the scanner
window after the recipient's batch was accepted (`acceptance`), and bursts, which may
straddle two batches (`bursts`: the earlier members, stored as a person's, are
re-marked when the later ones arrive). Then the batch is inserted in one bulk write
(`clickrows`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from briefmail.tracking import classifier
from briefmail.tracking.acceptance import AcceptanceTimes
from briefmail.tracking.bursts import BurstMemory
from briefmail.tracking.classifier import Reason
from briefmail.tracking.clickrows import insert_clicks, mark_burst
from briefmail.tracking.clicks import RawClick

_UA_MAX = 512
_MEMO_MAX = 100_000  # distinct (method, ip, user agent, hints) remembered
_UNKNOWN = object()


class ClickStore:
    """Classifies and inserts batches of clicks; one store sees every click, in order.

    Its memory (acceptance times, the burst memory) relies on one store seeing every
    click of the deployment: the one web process, or the one drainer of the Redis stream
    (`clickstream` holds a lease so only one drains at a time). Several processes
    answering clicks therefore need Redis.
    """

    def __init__(self, *, window_seconds: int, max_remembered: int = 1_000_000) -> None:
        self.acceptance = AcceptanceTimes(
            window_seconds=window_seconds, max_remembered=max_remembered
        )
        self.bursts = BurstMemory()
        self._request_memo: dict[tuple[str, str | None, str, str], Reason | None] = {}

    def store(self, sessions: sessionmaker[Session], clicks: Sequence[RawClick]) -> int:
        """Classify `clicks` and insert them in one transaction; how many were new.

        The store remembers the batch only once the transaction has committed, so a
        batch whose transaction failed is judged the same way when it is retried.
        """
        unique: Sequence[RawClick] = clicks
        if len({c.event_key for c in clicks}) < len(clicks):  # a replayed stream entry
            unique = list({c.event_key: c for c in clicks}.values())
        if not unique:
            return 0
        reasons = self._request_reasons(unique)
        recipients = [  # `bursts.recipient`, inlined: this runs once per click
            None if c.subscriber_id is None else (c.send_id << 40) | c.subscriber_id for c in unique
        ]
        with sessions.begin() as session:
            self._mark_window(session, unique, recipients, reasons)
            memory, earlier = self.bursts.judge(unique, recipients, reasons)
            mark_burst(session, earlier)
            rows = [
                (
                    c.event_key, c.send_id, c.link_id, c.subscriber_id,
                    datetime.fromtimestamp(c.clicked_at, UTC), c.method[:10],
                    c.ip[:64] if c.ip else None, c.user_agent[:_UA_MAX] or None,
                    reason is not None, reason.value if reason else None,
                )
                for c, reason in zip(unique, reasons, strict=True)
            ]  # fmt: skip
            inserted = insert_clicks(session, rows)
        self.bursts.commit(memory)
        return inserted

    def _request_reasons(self, clicks: Sequence[RawClick]) -> list[Reason | None]:
        """The request rules for each click, memoised: a few kinds of request make most."""
        memo = self._request_memo
        if len(memo) > _MEMO_MAX:
            memo.clear()
        reasons: list[Reason | None] = []
        for c in clicks:
            if c.link_id == classifier.HONEYPOT_LINK_ID:
                reasons.append(Reason.HONEYPOT)
                continue
            request = c[5:]  # (method, ip, user_agent, purpose)
            reason = memo.get(request, _UNKNOWN)
            if reason is _UNKNOWN:
                reason = memo[request] = classifier.request_reason(c.facts())
            reasons.append(reason)  # type: ignore[arg-type]
        return reasons

    def _mark_window(
        self,
        session: Session,
        clicks: Sequence[RawClick],
        recipients: list[int | None],
        reasons: list[Reason | None],
    ) -> None:
        accepted = self.acceptance.for_clicks(session, clicks, recipients, reasons)
        if not accepted:
            return
        window = self.acceptance.window_seconds
        for i, recipient in enumerate(recipients):
            if reasons[i] is None and recipient is not None:
                at = accepted.get(recipient)
                if classifier.in_window(clicks[i].clicked_at, at, window):
                    reasons[i] = Reason.WINDOW
