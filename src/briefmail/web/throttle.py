"""A small per-client limit for the sign-up form.

Double opt-in already stops anyone subscribing another person; this only keeps one
client from making us send a stream of confirmation emails. Counts live in the
process (one fixed window per client), which is enough for a form people use rarely.
"""

from __future__ import annotations

import time


class Throttle:
    def __init__(self, *, limit: int, per_seconds: float, max_clients: int = 50_000) -> None:
        self.limit = limit
        self.per_seconds = per_seconds
        self.max_clients = max_clients
        self._windows: dict[str, tuple[float, int]] = {}

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        start, count = self._windows.get(client, (now, 0))
        if now - start >= self.per_seconds:
            start, count = now, 0
        if count >= self.limit:
            return False
        if len(self._windows) >= self.max_clients and client not in self._windows:
            self._windows = {
                k: v for k, v in self._windows.items() if now - v[0] < self.per_seconds
            }
        self._windows[client] = (start, count + 1)
        return True
