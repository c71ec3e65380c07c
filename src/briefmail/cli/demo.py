"""`briefmail demo`: the whole product in under a minute, on embedded defaults.

A fresh SQLite file, tasks in-process and the outbox backend, all under one folder
that each run starts anew. The web app runs in this process on a free port, so the
links in the outbox are real links a browser could follow.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import httpx
import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from briefmail import clock
from briefmail.audience.csv_import import import_csv
from briefmail.briefs.store import approve_brief, import_brief, topic_slugs
from briefmail.cli import app
from briefmail.cli.report import print_report
from briefmail.config import Settings, get_settings
from briefmail.db.session import dispose_engines, session_scope
from briefmail.demo import population, traffic
from briefmail.reports.figures import brief_report
from briefmail.reports.html_report import report_html
from briefmail.sending import service
from briefmail.sending.engine_factory import engine_from_settings
from briefmail.web.app import create_app
from briefmail.web.serve import server_options

out = Console(highlight=False)
# Readers open the brief later than the gateway scans it: the simulated people click
# this long after sending, well outside the scanner window.
READERS_LATER = timedelta(hours=2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _use_demo_settings(folder: Path, port: int) -> Settings:
    """Point every setting at the demo folder (this process only)."""
    folder = folder.resolve()
    os.environ.update(
        {
            "BRIEFMAIL_DATABASE_URL": f"sqlite:///{folder / 'briefmail.db'}",
            "BRIEFMAIL_OUTBOX_DIR": str(folder / "outbox"),
            "BRIEFMAIL_EMAIL_BACKEND": "outbox",
            "BRIEFMAIL_BROKER_URL": "",
            "BRIEFMAIL_REDIS_URL": "",
            "BRIEFMAIL_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "BRIEFMAIL_SECRET_KEY_FILE": str(folder / "briefmail.secret"),
        }
    )
    os.environ.pop("BRIEFMAIL_SECRET_KEY", None)
    get_settings.cache_clear()
    dispose_engines()
    return get_settings()


def _reset(folder: Path) -> None:
    for name in ("briefmail.db", "briefmail.db-wal", "briefmail.db-shm", "report.html"):
        (folder / name).unlink(missing_ok=True)
    shutil.rmtree(folder / "outbox", ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)


@contextmanager
def _web_app(settings: Settings, port: int) -> Iterator[None]:
    """The real web app under uvicorn in a thread; stopping it flushes buffered clicks."""
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        **server_options(),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="briefmail-demo-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the demo web app did not start")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@app.command()
def demo(
    folder: Annotated[
        Path, typer.Option("--dir", help="Folder for the demo's database, outbox and report.")
    ] = Path("briefmail-demo"),
    subscribers: Annotated[
        int, typer.Option("--subscribers", min=10, max=20000, help="Sample subscribers.")
    ] = 1000,
) -> None:
    """Import the example brief, invent subscribers, send, click, and report.

    Runs on embedded defaults only (SQLite, in-process tasks, outbox), whatever
    the environment says, and starts from a fresh folder every time.
    """
    started = time.monotonic()
    _reset(folder)
    port = _free_port()
    settings = _use_demo_settings(folder, port)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
    )
    with progress:
        step = progress.add_task("Importing the example brief", total=None)
        with session_scope() as session:
            brief = import_brief(session, population.example_brief())
            slug, topics = brief.slug, topic_slugs(brief)

        progress.update(step, description=f"Inventing {subscribers} subscribers", total=None)
        csv_path = folder / "subscribers.csv"
        population.write_subscribers_csv(csv_path, topics, subscribers)
        with session_scope() as session:
            imported = import_csv(session, csv_path)

        progress.update(step, description="Approving and sending")
        with session_scope() as session:
            approve_brief(session, slug, by="briefmail demo")
            now = clock.now()
            send_id = service.create_send(session, slug, at=now, now=now, by="briefmail demo").id
        engine = engine_from_settings(settings)
        try:

            def on_progress(view: service.SendView) -> None:
                progress.update(step, total=view.recipients or None, completed=view.done)

            view = service.drain_send(engine, send_id, on_progress=on_progress)
        finally:
            engine.close()

        progress.update(step, description="Readers, scanners and one unsubscribe", total=None)
        messages = traffic.read_outbox(settings.outbox_dir)
        stats = traffic.Traffic()
        with _web_app(settings, port), httpx.Client(timeout=10) as client:
            # A hospital gateway scans the first messages the moment they arrive.
            traffic.scan_like_a_gateway(client, messages[:12], stats)
            # People open the brief later; clicks are timed by the one clock.
            later = clock.now() + READERS_LATER
            clock.set_now(lambda: later + timedelta(seconds=time.monotonic() - started))
            try:
                traffic.read_like_people(
                    client, messages, stats, rate=0.12, seed=7, pause=lambda: None
                )
                traffic.one_click_unsubscribe(client, messages[-1], stats)
            finally:
                clock.set_now(None)
            # A forwarded reader opens the web copy; a feed reader follows the brief.
            web_copy = client.get(f"{settings.public_url}/archive/{slug}")
            feed = client.get(f"{settings.public_url}/feed.xml")
        progress.update(step, description="Done", total=1, completed=1)

    with session_scope() as session:
        figures = brief_report(session, slug)
    report_path = folder / "report.html"
    report_path.write_text(report_html(figures, lang=settings.lang), encoding="utf-8")

    out.print()
    out.print(
        f"Imported {imported.added} subscribers; send {send_id} went to {view.recipients} "
        f"of them ({view.accepted} accepted, status {view.status})."
    )
    out.print(
        f"Simulated {stats.scanner_requests} gateway-scanner requests, "
        f"{stats.human_clicks} reader clicks and {stats.unsubscribed} one-click unsubscribe."
    )
    out.print()
    print_report(figures)
    out.print()
    out.print(f"Outbox:      {settings.outbox_dir}  ({len(messages)} .eml files)")
    out.print(f"HTML report: {report_path.resolve()}")
    out.print(f"Web archive: the brief's page {web_copy.status_code}, /feed.xml {feed.status_code}")
    out.print(f"Database:    {settings.database_url}")
    out.print(f"Finished in {time.monotonic() - started:.1f} s.")
