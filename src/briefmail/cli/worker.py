"""`briefmail worker`: the Celery worker with beat, or an in-process loop without a broker."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from briefmail.cli import app
from briefmail.config import get_settings
from briefmail.sending.runtime import engine_from_settings


@app.command("worker")
def worker(
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Worker processes.")
    ] = 2,
    loglevel: Annotated[str, typer.Option("--loglevel", help="Celery log level.")] = "INFO",
    beat: Annotated[bool, typer.Option("--beat/--no-beat", help="Run beat inside.")] = True,
) -> None:
    """Send due work: `celery -A worker.app worker -B` when BRIEFMAIL_BROKER_URL is set,
    else a loop in this process that ticks every BRIEFMAIL_TICK_SECONDS."""
    from briefmail.db.readiness import check_ready  # alembic: only for the commands using it

    settings = get_settings()
    check_ready(settings.database_url)  # one line now, not a failure per tick
    settings.signing_keys()  # a missing or guessable key stops here, in one line
    if settings.broker_url:
        from worker.app import app as celery_app

        argv = ["worker", f"--concurrency={concurrency}", f"--loglevel={loglevel}"]
        celery_app.worker_main([*argv, "-B"] if beat else argv)
        return
    typer.echo(f"no broker configured: working in-process, tick every {settings.tick_seconds:g}s")
    engine = engine_from_settings(settings)
    try:
        while True:
            started = time.monotonic()
            engine.tick()
            report = engine.work(budget_seconds=settings.tick_seconds)
            if report.started or report.batches:
                typer.echo(
                    f"started {len(report.started)} send(s), sent {len(report.batches)} batch(es)"
                )
            time.sleep(max(0.0, settings.tick_seconds - (time.monotonic() - started)))
    except KeyboardInterrupt:
        typer.echo("worker stopped")
    finally:
        engine.close()
