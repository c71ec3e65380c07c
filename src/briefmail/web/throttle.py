"""Limits on the sign-up form: per client, and for everyone together.

Double opt-in stops anyone subscribing another person; these limits keep the form
from becoming a way to make us send a stream of confirmation emails. A client is an
IPv4 address or an IPv6 /64 (one home or one server gets a whole /64, so counting
single IPv6 addresses would let one machine have billions of buckets); the global
cap bounds what many clients together can make us send. Both are fixed windows.

With Redis configured, the counts live there, so every web process and machine
shares them (per-process counts would multiply the limit by the number of
processes). If Redis stops answering, this process counts alone until it answers
again: the form keeps working, with limits per process meanwhile.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from dataclasses import dataclass

import redis
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)

CLIENT_WINDOW_SECONDS = 600
GLOBAL_WINDOW_SECONDS = 3600
_KEY_PREFIX = "briefmail:signup-limit"
_MAX_LOCAL_KEYS = 100_000


def client_key(ip: str | None) -> str:
    """The bucket of an address: itself for IPv4, its /64 for IPv6, "unknown" else."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    limit: int
    window_seconds: int


class LocalCounts:
    """Fixed-window counts in this process, at most `_MAX_LOCAL_KEYS` of them."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int, int], int] = {}

    def add(self, key: str, window_seconds: int) -> int:
        if len(self._counts) >= _MAX_LOCAL_KEYS:  # drop the windows that are over
            self._counts = {k: n for k, n in self._counts.items() if k[2] == _window(k[1])}
            if len(self._counts) >= _MAX_LOCAL_KEYS:
                self._counts.clear()  # that many clients at once: the global cap holds
        slot = (key, window_seconds, _window(window_seconds))
        self._counts[slot] = count = self._counts.get(slot, 0) + 1
        return count


class RedisCounts:
    """Fixed-window counts in Redis: INCR on a key that expires with its window."""

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)

    def add(self, key: str, window_seconds: int) -> int:
        counted = f"{_KEY_PREFIX}:{key}:{_window(window_seconds)}"
        with self._client.pipeline(transaction=True) as pipe:
            pipe.incr(counted)
            pipe.expire(counted, window_seconds + 60)
            count, _ = pipe.execute()
        return int(count)

    def close(self) -> None:
        self._client.close()


class SignupLimits:
    def __init__(self, *, per_client: int, overall: int, redis_url: str = "") -> None:
        self.client = Limit("client", per_client, CLIENT_WINDOW_SECONDS)
        self.overall = Limit("all", overall, GLOBAL_WINDOW_SECONDS)
        self._shared = RedisCounts(redis_url) if redis_url else None
        self._local = LocalCounts()
        self._shared_failing = False

    async def allow(self, ip: str | None) -> bool:
        """Count one sign-up from `ip`; False when it is over a limit.

        A client already over its own limit is not counted against everyone's. Redis
        is asked from a worker thread (a sign-up is rare; the event loop never waits)."""
        if self._shared is None:
            return self._count(ip)
        return await run_in_threadpool(self._count, ip)

    def close(self) -> None:
        if self._shared is not None:
            self._shared.close()

    def _count(self, ip: str | None) -> bool:
        if not self._within(self.client, client_key(ip)):
            return False
        return self._within(self.overall, "*")

    def _within(self, limit: Limit, subject: str) -> bool:
        return self._add(f"{limit.name}:{subject}", limit.window_seconds) <= limit.limit

    def _add(self, key: str, window_seconds: int) -> int:
        if self._shared is not None:
            try:
                count = self._shared.add(key, window_seconds)
            except (RedisError, OSError) as exc:
                if not self._shared_failing:
                    log.warning("sign-up limits: Redis unavailable, counting per process: %s", exc)
                self._shared_failing = True
            else:
                if self._shared_failing:
                    log.warning("sign-up limits: Redis answers again, counts shared again")
                self._shared_failing = False
                return count
        return self._local.add(key, window_seconds)


def _window(seconds: int) -> int:
    return int(time.time()) // seconds
