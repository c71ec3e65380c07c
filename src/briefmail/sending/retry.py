"""When to try a batch again after a 429 or 5xx.

Exponential backoff with full jitter spreads retries of many batches so they do not
hit the provider together; a `Retry-After` from the provider is a floor, never
shortened by jitter. The delay lands on the batch row (`due_at`), not in a Celery
countdown, so a worker restart cannot lose or double it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

MAX_DELAY_SECONDS = 3600.0
_RNG = random.Random()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float = MAX_DELAY_SECONDS

    def should_retry(self, attempts_made: int) -> bool:
        """True while another attempt is allowed after `attempts_made` attempts."""
        return attempts_made < self.max_attempts

    def delay(
        self, attempts_made: int, retry_after: float | None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before attempt `attempts_made + 1`."""
        rand = (rng or _RNG).random()
        if retry_after is not None and retry_after > 0:
            # The provider's word is the floor; up to a quarter more spreads the batches
            # that were all told the same thing.
            return min(self.max_seconds, retry_after * (1 + rand / 4))
        ceiling = min(self.max_seconds, self.base_seconds * 2.0 ** max(0, attempts_made - 1))
        # Jitter over the upper half: a retry storm is spread out while each batch
        # still backs off meaningfully.
        return ceiling / 2 + rand * ceiling / 2
