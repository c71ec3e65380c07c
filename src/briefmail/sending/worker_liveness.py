"""Who holds a batch, or a send's ledger, and whether they still do.

Every engine (one per worker process start, or per command that sends in-process)
takes a random instance id and, while it may hold claims, beats: a thread refreshes
its row in `workers` every few seconds. Claims record the instance id. A batch is
orphaned only when its owner's heartbeat has stopped: silent for the lease, or
stopped cleanly. Host names and pids decide nothing: with host networking, or one
PID namespace under one host name, containers share and reuse them, and live workers
looked dead. An owner is registered (its first beat) before it claims anything, so
a claim naming no registered owner has no live owner either.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import SQLColumnExpression, exists, or_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from briefmail import clock
from briefmail.db.dialect import begin_write, rowcount
from briefmail.db.models import Worker
from briefmail.sending.failures import first_line

log = logging.getLogger(__name__)


def heartbeat_interval(lease_seconds: float) -> float:
    """A tenth of the lease (1 to 15 s): a live owner beats many times before it could
    look dead, even after a short database outage."""
    return max(1.0, min(15.0, lease_seconds / 10))


class Owner:
    """This engine's identity, and its heartbeat while it may hold claims."""

    def __init__(self, sessions: sessionmaker[Session], *, lease_seconds: float) -> None:
        self.id = uuid.uuid4().hex
        self.sessions = sessions
        self.interval = heartbeat_interval(lease_seconds)
        self._lock = threading.Lock()
        self._holders = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Whether a beat ever reached the database: an owner that never registered
        # named no claim, so its stop has nothing to release.
        self._registered = False

    @contextmanager
    def holding(self) -> Iterator[str]:
        """Beat while the caller may claim work; nests, and threads may share it.

        Registered (a first, synchronous beat) before the first claim, so no claim ever
        names an owner others cannot find. When the last holder leaves the beating
        stops: an engine holds claims only inside `work`, so an idle engine owns nothing
        whose liveness matters, and a process killed mid-batch simply stops beating.
        """
        with self._lock:
            if self._holders == 0:
                self.beat()
                self._stop = threading.Event()
                self._thread = threading.Thread(
                    target=self._run, args=(self._stop,), name="briefmail-heartbeat", daemon=True
                )
                self._thread.start()
            self._holders += 1
        try:
            yield self.id
        finally:
            with self._lock:
                self._holders -= 1
                done = self._thread if self._holders == 0 else None
                if done is not None:
                    self._stop.set()
                    self._thread = None
            if done is not None:
                done.join(timeout=max(5.0, self.interval))

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                self.beat()
            except Exception as exc:  # a database blip: the next beat tries again
                log.warning("worker %s: heartbeat not written: %s", self.id, first_line(exc))

    def beat(self) -> None:
        """Record that this engine is alive (registering it the first time)."""
        now = clock.now()
        with self.sessions() as session:
            begin_write(session)
            fresh = session.execute(
                update(Worker).where(Worker.id == self.id).values(heartbeat_at=now, stopped_at=None)
            )
            if rowcount(fresh) == 0:
                session.add(
                    Worker(
                        id=self.id,
                        host=socket.gethostname()[:255],
                        pid=os.getpid(),
                        started_at=now,
                        heartbeat_at=now,
                    )
                )
            session.commit()
        self._registered = True

    def stop(self) -> None:
        """A clean stop: anything it still held is orphaned at once, not after the lease.

        Nothing to write for an owner that never registered (a command that met a
        database it cannot use before any work): its own line would only come before
        the command's one-line error."""
        if not self._registered:
            return
        try:
            with self.sessions() as session:
                begin_write(session)
                session.execute(
                    update(Worker).where(Worker.id == self.id).values(stopped_at=clock.now())
                )
                session.commit()
        except SQLAlchemyError as exc:  # then the lease tells the others instead
            log.warning("worker %s: stop not recorded: %s", self.id, first_line(exc))


def silent(
    owner: SQLColumnExpression[str | None],
    *,
    now: datetime,
    lease_seconds: float,
) -> ColumnElement[bool]:
    """SQL: true where `owner` (a claim's instance id) has stopped: no heartbeat
    within the lease, or a clean stop."""
    expired = now - timedelta(seconds=lease_seconds)
    alive = exists().where(
        Worker.id == owner, Worker.stopped_at.is_(None), Worker.heartbeat_at >= expired
    )
    return or_(owner.is_(None), ~alive)
