"""Real Celery worker processes (with beat) against the real Redis and the SendGrid stand-in."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import ROOT, TEST_SECRET_KEY
from tests.fakes.sendgrid_server import API_KEY, FakeSendGrid

BROKER_URL = os.environ.get("BRIEFMAIL_TEST_BROKER_URL", "redis://127.0.0.1:6379/4")


@pytest.fixture
def broker_url() -> Iterator[str]:
    client = redis.Redis.from_url(BROKER_URL)
    client.flushdb()
    yield BROKER_URL
    client.flushdb()
    client.close()


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server


def worker_env(db_url: str, broker: str, fake: FakeSendGrid, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFMAIL_")}
    env.update(
        BRIEFMAIL_DATABASE_URL=db_url,
        BRIEFMAIL_BROKER_URL=broker,
        BRIEFMAIL_EMAIL_BACKEND="sendgrid",
        BRIEFMAIL_SENDGRID_API_KEY=API_KEY,
        BRIEFMAIL_SENDGRID_HOST=fake.url,
        BRIEFMAIL_SECRET_KEY=os.environ.get("BRIEFMAIL_SECRET_KEY", TEST_SECRET_KEY),
        BRIEFMAIL_PUBLIC_URL="https://brief.example.org",
        BRIEFMAIL_TICK_SECONDS="0.5",
        BRIEFMAIL_SEND_RETRY_BASE_SECONDS="0.2",
        BRIEFMAIL_HTTP_TIMEOUT_SECONDS="60",
        BRIEFMAIL_SEND_RESEND_GRACE_SECONDS="0",  # `sends resolve --resend` goes at once
        # A killed worker's heartbeat is silent for this long before its batches are
        # settled (heartbeats every second).
        BRIEFMAIL_SEND_LEASE_SECONDS="10",
    )
    env.update(extra)
    return env


class Worker:
    """`celery -A worker.app worker -B` in its own process group."""

    def __init__(
        self, env: dict[str, str], log: Path, concurrency: int = 2, *, via_cli: bool = False
    ) -> None:
        self.log = log
        self._handle = open(log, "ab")  # noqa: SIM115 - closed in stop()
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "worker.app",
            "worker",
            "-B",
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            f"--hostname=test-{os.getpid()}-{time.monotonic_ns()}@%h",
        ]
        if via_cli:  # `briefmail worker`: the same, started by our command
            argv = [sys.executable, "-m", "briefmail", "worker", f"--concurrency={concurrency}"]
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b" ready." in self.log.read_bytes():
                return
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"worker not ready:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole group: the main process, its pool and beat, mid-whatever."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._handle.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._handle.close()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        if worker.process.poll() is None:
            worker.stop()


def wait_until(predicate, timeout: float = 90, interval: float = 0.2, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or predicate}")
