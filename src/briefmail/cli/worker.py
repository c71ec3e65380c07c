"""`briefmail worker`: the Celery worker with beat, or an in-process loop without a broker."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from briefmail.cli import app
from briefmail.config import get_settings
from briefmail.errors import InvalidInputError
from briefmail.sending.engine import WorkReport
from briefmail.sending.engine_factory import engine_from_settings
from briefmail.sending.loop import run_forever


@app.command("worker")
def worker(
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Worker processes.")
    ] = 2,
    loglevel: Annotated[str, typer.Option("--loglevel", help="Log level.")] = "INFO",
    beat: Annotated[bool, typer.Option("--beat/--no-beat", help="Run beat inside.")] = True,
) -> None:
    """Send due work: a Celery worker with beat, or without a broker a loop in this process.

    With BRIEFMAIL_BROKER_URL set this is `celery -A worker.app worker -B` (no
    -B with --no-beat). Without it, a loop ticks every BRIEFMAIL_TICK_SECONDS
    and rides out database and backend errors (logged, with a growing wait).
    """
    if loglevel.upper() not in logging.getLevelNamesMapping():
        raise InvalidInputError(f"--loglevel: {loglevel!r} is not DEBUG, INFO, WARNING or ERROR")
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
    logging.basicConfig(
        level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    engine = engine_from_settings(settings)

    def report(done: WorkReport) -> None:
        if done.started or done.batches or done.failed:
            typer.echo(
                f"started {len(done.started)} send(s), sent {len(done.batches)} batch(es)"
                + (f", {len(done.failed)} send(s) failed" if done.failed else "")
            )

    try:
        run_forever(engine, tick_seconds=settings.tick_seconds, on_round=report)
    except KeyboardInterrupt:
        typer.echo("worker stopped")
    finally:
        engine.close()
