"""The burst memory: what `ClickStore` remembers of each recipient between batches.

A burst may straddle two batches, so the store keeps, per recipient, its latest click
on each of the last few distinct links (`classifier.next_links`): enough to judge the
next click and to re-mark the earlier members of a burst, which were stored as a
person's. That is a few tuples per recipient whatever it does, so a recipient
hammering one link is stored as fast as anyone else (BENCHMARKS.md, hot link).

The memory changes only once the batch's transaction has committed (`commit`): a batch
that failed is judged again, against the same memory, when it is retried.
"""

from __future__ import annotations

from collections.abc import Sequence

from briefmail.tracking import classifier
from briefmail.tracking.classifier import Reason, Seen
from briefmail.tracking.clicks import RawClick

# A burst spans BURST_SECONDS; a little more covers batches that arrive late.
MEMORY_SECONDS = classifier.BURST_SECONDS + 1

Recipients = Sequence[int | None]
Memory = dict[int, tuple[Seen, ...]]


class BurstMemory:
    """Per recipient (an int: `recipient`), the latest clicks a burst could still need,
    each with whether it is (to be) stored as a person's.

    Two generations: `_recent` fills up, and once it spans MEMORY_SECONDS it becomes
    `_older` and the previous `_older` is dropped whole, so nothing is forgotten click
    by click. Keys are ints and values tuples of atoms, which the cyclic garbage
    collector skips: tens of thousands of small containers here made its passes stall
    the event loop (BENCHMARKS.md).
    """

    def __init__(self) -> None:
        self._recent: Memory = {}
        self._older: Memory = {}
        self._generation_start: float | None = None

    def judge(
        self, clicks: Sequence[RawClick], recipients: Recipients, reasons: list[Reason | None]
    ) -> tuple[Memory, set[tuple[int, str]]]:
        """Mark the batch's clicks that are in a burst (in `reasons`, where the rules
        that need no history have been applied); return the memory after the batch
        (for `commit`) and (send id, event key) of clicks stored as a person's before
        this batch that a burst now includes."""
        recent, older = self._recent, self._older
        after: Memory = {}
        earlier: set[tuple[int, str]] = set()
        batch: dict[str, int] | None = None  # event key -> index, once a burst needs it
        for i, recipient in enumerate(recipients):
            if recipient is None:
                continue
            click = clicks[i]
            seen = (click.clicked_at, click.link_id, click.event_key, reasons[i] is None)
            latest = after.get(recipient) or recent.get(recipient) or older.get(recipient)
            if not latest:  # most clicks: nothing of this recipient in the last seconds
                after[recipient] = (seen,)
                continue
            if any(s[2] == click.event_key for s in latest):
                continue  # stored before: a replayed batch
            if len(latest) == 1 and latest[0][1] == click.link_id:  # one link, again
                if click.clicked_at >= latest[0][0]:
                    after[recipient] = (seen,)
                continue
            kept, burst = classifier.next_links(latest, seen)
            if burst:
                if batch is None:
                    batch = {c.event_key: j for j, c in enumerate(clicks)}
                kept = _members(kept, recipient, batch, reasons, earlier)
                if reasons[i] is None:
                    reasons[i] = Reason.BURST
            after[recipient] = kept
        return after, earlier

    def commit(self, after: Memory) -> None:
        """Remember the batch `judge` saw, now that it is stored."""
        if not after:
            return
        latest = max(kept[-1][0] for kept in after.values())
        start = self._generation_start
        if start is None or latest < start:
            self._generation_start = latest
        elif latest - start > MEMORY_SECONDS:
            self._older, self._recent = self._recent, {}
            self._generation_start = latest
        self._recent.update(after)


def recipient(send_id: int, subscriber_id: int) -> int:
    """One int for (send, subscriber): subscriber ids stay below 2**40."""
    return (send_id << 40) | subscriber_id


def send_of(recipient: int) -> int:
    return recipient >> 40


def _members(
    kept: tuple[Seen, ...],
    recipient: int,
    batch: dict[str, int],
    reasons: list[Reason | None],
    earlier: set[tuple[int, str]],
) -> tuple[Seen, ...]:
    """Mark the remembered members of a burst: in this batch through `reasons`, stored
    before it through `earlier`. Returns them marked as no longer a person's."""
    for _at, _link, key, human in kept:
        index = batch.get(key)
        if index is not None:
            if reasons[index] is None:
                reasons[index] = Reason.BURST
        elif human:
            earlier.add((send_of(recipient), key))
    return tuple((at, link, key, False) for at, link, key, _human in kept)
