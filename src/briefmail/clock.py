"""The one clock.

Everything that asks "what time is it" asks here, so tests and the weekly scheduler
can be driven by a controllable clock instead of sleeping. `BRIEFMAIL_FAKE_NOW`
(ISO 8601, UTC assumed when naive) pins the time for subprocesses such as Celery
workers started by the tests; it is read once, when the process first asks.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

_override: Callable[[], datetime] | None = None


@functools.cache
def _pinned_by_environment() -> datetime | None:
    fake = os.environ.get("BRIEFMAIL_FAKE_NOW")
    if not fake:
        return None
    parsed = datetime.fromisoformat(fake)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    if _override is not None:
        return _override()
    return _pinned_by_environment() or datetime.now(UTC)


def timestamp() -> float:
    """Current POSIX time in seconds: what the click redirect stamps (a float is a
    tenth of the cost of a datetime to make and to pickle, at redirect rates)."""
    if _override is not None or _pinned_by_environment() is not None:
        return now().timestamp()
    return time.time()


def set_now(value: datetime | Callable[[], datetime] | None) -> None:
    """Pin the clock (a fixed time or a callable); None restores the real clock."""
    global _override
    if value is None or callable(value):
        _override = value
    else:
        fixed = value if value.tzinfo else value.replace(tzinfo=UTC)
        _override = lambda: fixed  # noqa: E731


def as_utc(value: datetime) -> datetime:
    """Databases hand back naive datetimes on SQLite; treat them as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
