"""`briefmail worker` without a broker: tick and work, round after round, whatever fails.

A database that goes away, a backend that raises, a bug met in one round: each is
logged, the loop waits (doubling the wait up to a cap) and tries again, and the first
round that succeeds resets the wait. Going on is always safe: what a round claimed is
settled by the ledger's own rules (answers are retried by `Engine._record`, a batch
whose owner went quiet is settled by the next tick), never by this loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from briefmail.sending import failures
from briefmail.sending.engine import Engine, WorkReport

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Backoff:
    """Waits after consecutive failed rounds: first, 2 x first, ... up to cap."""

    first: float = 1.0
    cap: float = 60.0
    failures: int = 0

    def next(self) -> float:
        wait = min(self.cap, self.first * 2.0 ** min(self.failures, 30))
        self.failures += 1
        return wait

    def reset(self) -> None:
        self.failures = 0


def run_forever(
    engine: Engine,
    *,
    tick_seconds: float,
    on_round: Callable[[WorkReport], None] = lambda _report: None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Tick, work for up to `tick_seconds`, sleep out the rest; until interrupted."""
    backoff = Backoff(first=min(1.0, tick_seconds), cap=max(60.0, tick_seconds))
    while True:
        started = time.monotonic()
        try:
            _tick(engine)
            report = engine.work(budget_seconds=tick_seconds)
        except Exception as exc:
            wait = backoff.next()
            if failures.is_database_error(exc):  # an outage, not a bug: one line
                why = failures.first_line(exc)
                log.warning("database unavailable (%s); trying again in %g s", why, wait)
            else:
                log.exception("worker round failed; trying again in %g s", wait)
            sleep(wait)
            continue
        backoff.reset()
        on_round(report)
        sleep(max(0.0, tick_seconds - (time.monotonic() - started)))


def _tick(engine: Engine) -> None:
    """A tick that fails for a reason other than the database (a bug in one of its
    reviews, say) must not hold up due work: it is logged and the round goes on. An
    outage stops the round, as the work would meet it too."""
    try:
        engine.tick()
    except Exception as exc:
        if failures.is_database_error(exc):
            raise
        log.exception("tick failed; sending what is due anyway")
