"""Splitting a send's deliveries into provider requests.

A batch holds recipients with the same due time only, so a batch is never due
before every one of its recipients is (local-time sends spread one send over a day).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PlannedBatch:
    seq: int
    due_at: datetime
    delivery_ids: tuple[int, ...]


def plan_batches(
    deliveries: Iterable[tuple[int, datetime]], size: int, *, first_seq: int = 1
) -> Iterator[PlannedBatch]:
    """Batches of at most `size` from (delivery_id, due_at) pairs sorted by (due_at, id)."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    seq = first_seq
    current: list[int] = []
    current_due: datetime | None = None
    for delivery_id, due_at in deliveries:
        if current and (due_at != current_due or len(current) == size):
            assert current_due is not None
            yield PlannedBatch(seq, current_due, tuple(current))
            seq += 1
            current = []
        current.append(delivery_id)
        current_due = due_at
    if current:
        assert current_due is not None
        yield PlannedBatch(seq, current_due, tuple(current))
