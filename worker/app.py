"""The Celery app, configured from the settings.

Choices, and why:

- `task_acks_late` + `task_reject_on_worker_lost`: a message is acknowledged only
  after its task ran, so a worker killed mid-task leaves it to be delivered again.
  That is safe because every task is idempotent: work is claimed from the database
  with a conditional update, and a batch in flight is never re-sent by a redelivered
  message (it is `sending`, so nobody can claim it; the tick settles it).
- `worker_prefetch_multiplier = 1`: a worker holds no more messages than it runs, so
  one busy worker does not sit on the wake-ups another idle worker could take.
- `visibility_timeout` (Redis): an unacknowledged message is handed to another
  worker after this long. It must exceed the longest task, or a running task is
  started a second time: a `work` task spends at most `WORK_BUDGET_SECONDS` claiming
  batches plus one provider request (`BRIEFMAIL_HTTP_TIMEOUT_SECONDS`) and its
  commits. We never use ETA/countdown (whose messages sit unacknowledged until due,
  so anything longer than the timeout would run twice), so nothing else needs a
  longer one; and a message stranded by a dead worker costs nothing while it waits,
  because beat's tick re-derives all due work from the database every minute.
  Hence: ten minutes, at least four times the longest task.
- Beat uses the in-memory scheduler: the tick is periodic and idempotent, so a
  restarted beat loses nothing worth a schedule file, and several beats (one per
  `-B` worker) only cost a few empty ticks.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from briefmail.db.session import dispose_engines
from briefmail.startup import settings_or_exit

WORK_BUDGET_SECONDS = 60.0
QUEUE = "briefmail"


def visibility_timeout(http_timeout: float) -> int:
    longest_task = WORK_BUDGET_SECONDS + http_timeout + 30
    return int(max(600.0, 4 * longest_task))


def make_app() -> Celery:
    settings = settings_or_exit()
    broker = settings.broker_url or "memory://"
    celery = Celery("briefmail", broker=broker, backend=settings.broker_url or None)
    transport = {"visibility_timeout": visibility_timeout(settings.http_timeout_seconds)}
    celery.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=transport,
        task_ignore_result=True,
        result_expires=3600,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        beat_scheduler="celery.beat:Scheduler",
        beat_schedule={
            "tick": {
                "task": "briefmail.tick",
                "schedule": settings.tick_seconds,
                # A tick nobody ran in time is replaced by the next one.
                "options": {"expires": max(1.0, settings.tick_seconds)},
            }
        },
        include=["worker.tasks"],
    )
    return celery


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _after_fork(**_: Any) -> None:
    # A forked pool process must not share the parent's database connections.
    dispose_engines()


app = make_app()
