"""A click as the redirect saw it (`RawClick`), before it is classified and stored.

The redirect never writes a click itself: it hands a `RawClick` to the recorder
(`tracking.recorder`), whose batches are classified and stored by `tracking.clickstore`
(directly, or through the Redis stream, `tracking.clickstream`). Every click carries a
random `event_key`, unique in the table, so a batch written twice (a retry after a
timeout, a stream entry drained twice) is stored once.
"""

from __future__ import annotations

import itertools
import os
from typing import Any, NamedTuple

from briefmail.tracking.classifier import RequestFacts

# Unique without a system call per click: a random per-process prefix and a counter.
_KEY_PREFIX = os.urandom(8).hex()
_key_counter = itertools.count()


def new_event_key() -> str:
    return f"{_KEY_PREFIX}{next(_key_counter):x}"


class RawClick(NamedTuple):
    """A click as the redirect saw it, before classification (a tuple: cheap to make)."""

    event_key: str
    send_id: int
    link_id: int
    subscriber_id: int | None
    clicked_at: float  # POSIX seconds (`clock.timestamp()`)
    method: str
    ip: str | None
    user_agent: str
    purpose: str  # prefetch hint headers, joined and lower-cased

    @classmethod
    def from_row(cls, row: Any) -> RawClick:
        """A click from a JSON row in field order (the writer's batches, the stream, the
        spool); ValueError if it is not one."""
        if not isinstance(row, list) or len(row) != len(cls._fields):
            raise ValueError(f"not a click row: {row!r:.80}")
        return cls._make(row)

    def facts(self) -> RequestFacts:
        return RequestFacts(self.method, self.user_agent, self.ip, self.purpose, self.link_id)
