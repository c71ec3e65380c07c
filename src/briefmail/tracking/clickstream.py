"""The Redis click stream: clicks that outlive the web process that answered them.

With a Redis URL configured, the click writer XADDs each batch as one entry, its
clicks packed as JSON rows (`add_to_stream`; an entry per click cost the writer far
more in command building and reply parsing, BENCHMARKS.md), and `drain_stream` moves
entries into the database, acknowledging and deleting them only after the insert
committed. A crash or a database outage leaves entries pending for their consumer
(read again first) or, once idle for a while, for any other consumer to claim.

Every process that answers clicks runs a `StreamDrainer` in its click writer, but only
the holder of a short Redis lease (`hold_drain_lease`) drains: one `ClickStore` then
sees every click in order, which is what lets it find bursts from memory. When the
holder dies its lease lapses within seconds and another process takes over, claiming
what was left pending.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

import orjson
import redis
from sqlalchemy.orm import Session, sessionmaker

from briefmail.tracking.clicks import RawClick
from briefmail.tracking.clickstore import ClickStore

log = logging.getLogger(__name__)

STREAM = "briefmail:clicks"
_PACKED = "b"  # the field of a batch entry
GROUP = "briefmail-clicks"
LEASE = "briefmail:clicks:drainer"

# Take the lease if free, renew it if ours; 1 if we hold it afterwards.
_HOLD = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def hold_drain_lease(client: redis.Redis[bytes], consumer: str, *, ttl_ms: int = 5000) -> bool:
    """True if `consumer` is (now) the one drainer; call again well within `ttl_ms`."""
    return bool(client.eval(_HOLD, 1, LEASE, consumer, ttl_ms))  # type: ignore[no-untyped-call]


def release_drain_lease(client: redis.Redis[bytes], consumer: str) -> None:
    client.eval(_RELEASE, 1, LEASE, consumer)  # type: ignore[no-untyped-call]


def add_to_stream(client: redis.Redis[bytes], clicks: Sequence[RawClick]) -> None:
    """XADD a batch as one entry: its clicks as JSON rows in `RawClick`'s field order."""
    if clicks:
        client.xadd(STREAM, {_PACKED: orjson.dumps([tuple(click) for click in clicks])})


def ensure_group(client: redis.Redis[bytes], *, stream: str = STREAM, group: str = GROUP) -> None:
    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def drain_stream(
    client: redis.Redis[bytes],
    sessions: sessionmaker[Session],
    *,
    store: ClickStore | None = None,
    window_seconds: int = 60,
    consumer: str,
    count: int = 20,
    block_ms: int | None = None,
    claim_idle_ms: int = 30_000,
    stream: str = STREAM,
    group: str = GROUP,
) -> int:
    """Move up to `count` stream entries (each a batch) into the database in one
    transaction; returns how many entries settled (stored, or dropped as malformed).

    Pass a long-lived `store` to keep its memory of batch acceptance times between
    calls; otherwise a fresh one classifies with `window_seconds`.
    """
    try:
        entries = _next_entries(client, consumer, count, block_ms, claim_idle_ms, stream, group)
    except redis.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        ensure_group(client, stream=stream, group=group)
        return 0
    if not entries:
        return 0
    clicks: list[RawClick] = []
    for _entry_id, fields in entries:
        if not fields:
            continue  # deleted after a previous acknowledgement raced
        try:
            clicks.extend(_clicks_of(fields))
        except (KeyError, ValueError, TypeError):
            log.error("click stream: dropping malformed entry %r", _entry_id)
    if clicks:
        (store or ClickStore(window_seconds=window_seconds)).store(sessions, clicks)
    ids = [entry_id for entry_id, _ in entries]
    pipe = client.pipeline(transaction=False)
    pipe.xack(stream, group, *ids)
    pipe.xdel(stream, *ids)
    pipe.execute()
    return len(ids)


def _clicks_of(fields: dict[Any, Any]) -> list[RawClick]:
    """The clicks of one entry; ValueError/TypeError/KeyError if it is not a batch."""
    rows = orjson.loads(fields[_PACKED.encode()])
    if not isinstance(rows, list):
        raise ValueError("a packed entry holds a list of clicks")
    return [RawClick.from_row(row) for row in rows]


def _next_entries(
    client: redis.Redis[bytes],
    consumer: str,
    count: int,
    block_ms: int | None,
    claim_idle_ms: int,
    stream: str,
    group: str,
) -> list[tuple[Any, Any]]:
    # 1. our own pending entries (delivered before, not yet acknowledged)
    own = client.xreadgroup(group, consumer, {stream: "0"}, count=count)
    entries = _entries(own)
    if entries:
        return entries
    # 2. entries another consumer took and abandoned
    claimed = client.xautoclaim(stream, group, consumer, claim_idle_ms, "0-0", count=count)
    if claimed and len(claimed) > 1 and claimed[1]:
        return [(e[0], e[1]) for e in claimed[1]]
    # 3. new entries
    fresh = client.xreadgroup(group, consumer, {stream: ">"}, count=count, block=block_ms)
    return _entries(fresh)


def _entries(reply: Any) -> list[tuple[Any, Any]]:
    if not reply:
        return []
    return [(entry_id, fields) for _stream, items in reply for entry_id, fields in items]


class StreamDrainer:
    """Drains the stream into the database while this process holds the lease."""

    def __init__(
        self, client: redis.Redis[bytes], sessions: sessionmaker[Session], *, window_seconds: int
    ) -> None:
        self.client = client
        self.sessions = sessions
        self.store = ClickStore(window_seconds=window_seconds)
        self.consumer = f"{socket.gethostname()}-{os.getpid()}"

    def drain_once(self, block_ms: int | None) -> int:
        """One pass; -1 when another process holds the lease."""
        if not hold_drain_lease(self.client, self.consumer):
            return -1
        return drain_stream(
            self.client, self.sessions, store=self.store, consumer=self.consumer,
            block_ms=block_ms,
        )  # fmt: skip

    def run(self, stop: threading.Event) -> None:
        """Drain until `stop` is set; failures (database or Redis down) back off and retry."""
        delay = 0.0
        while not stop.is_set():
            try:
                ensure_group(self.client)
                drained = self.drain_once(200)
                delay = 1.0 if drained < 0 else 0.0  # standby while another process drains
            except Exception as exc:
                log.warning("click stream: drain failed: %s", exc)
                delay = min(max(delay * 2, 0.2), 5.0)
            if delay:
                stop.wait(delay)

    def final_drain(self, timeout: float = 30.0) -> None:
        """On shutdown: store what is on the stream (if ours to drain), release the lease."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.drain_once(None) <= 0:
                    break
            except Exception as exc:
                log.warning("click stream: final drain failed: %s", exc)
                time.sleep(0.5)
        with contextlib.suppress(redis.RedisError):  # else the lease lapses by itself
            release_drain_lease(self.client, self.consumer)
