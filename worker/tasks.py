"""Thin tasks: each calls the engine, which does the same in-process without Celery.

Arguments are plain (none at all, here: all work is found in the database), and
tasks are queued only after the transaction that created the work committed.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from celery.signals import worker_process_shutdown

from briefmail.config import get_settings
from briefmail.sending.engine import Engine
from briefmail.sending.engine_factory import engine_from_settings
from worker.app import WORK_BUDGET_SECONDS, app


@lru_cache(maxsize=1)
def _engine(pid: int) -> Engine:
    return engine_from_settings(get_settings())


def engine() -> Engine:
    """This process's engine (one per pool process: built after the fork)."""
    return _engine(os.getpid())


@worker_process_shutdown.connect  # type: ignore[untyped-decorator]
def _stopped(**_: Any) -> None:
    # A clean stop: whatever this process still held is settled at once by the others
    # (its heartbeat would otherwise have to go silent for the lease first).
    if _engine.cache_info().currsize:
        engine().close()


@app.task(name="briefmail.tick", ignore_result=True)  # type: ignore[untyped-decorator]
def tick() -> dict[str, Any]:
    """Beat, every minute: settle orphans, start the weekly send, wake workers if due."""
    report = engine().tick()
    if report.due:
        work.delay()
    return {"due": report.due, "weekly_send": report.weekly_send, "settled": report.settled}


@app.task(name="briefmail.work", ignore_result=True)  # type: ignore[untyped-decorator]
def work() -> dict[str, Any]:
    """Claim and send due work; wakes one more worker when it finds some."""
    report = engine().work(budget_seconds=WORK_BUDGET_SECONDS, wake=lambda: work.delay())
    return {"started": report.started, "batches": report.batches}


def enqueue_work() -> None:
    """Called by the CLI after committing a send that is due now."""
    work.delay()
