"""`briefmail subscribers`: add, import, export, list, unsubscribe, suppress."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from briefmail.accounts.audit import Action
from briefmail.audience import subscribers as people
from briefmail.audience import suppression
from briefmail.audience.csv_import import import_csv, write_csv
from briefmail.audience.topics import parse_topic_list
from briefmail.audience.views import ImportOut, SubscriberOut, SubscriberPage
from briefmail.cli import app, err_console
from briefmail.cli.audit import record
from briefmail.db import session_scope
from briefmail.db.models import SUBSCRIBER_STATUSES

subscribers_app = typer.Typer(
    help="Subscribers: add, import, export, list, unsubscribe.", no_args_is_help=True
)
app.add_typer(subscribers_app, name="subscribers")

out = Console(highlight=False, soft_wrap=True)
# Rows reported one by one before the rest are summarised as a count.
SHOWN_PROBLEMS = 50
# A bar is worth drawing from about 20,000 rows up.
PROGRESS_BYTES = 1_000_000


@subscribers_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV with header email,name,topics.")],
) -> None:
    """Import or update subscribers from CSV; bad rows are reported by line and skipped.

    `topics` is a `;`-separated list of topic names or slugs, empty for all
    topics; an optional `status` column (as `export` writes) may stop a
    subscriber, never start one. An unsubscribed, bounced, complained or
    suppressed address is never re-activated. The whole file is one transaction.
    """
    with session_scope() as session, _progress(file) as progress:
        result = import_csv(session, file, progress=progress)
        counts = ImportOut.of(result).model_dump(exclude={"problems"})
        record(session, Action.SUBSCRIBERS_IMPORT, file.name, {**counts, "skipped": result.skipped})
    for problem in result.problems[:SHOWN_PROBLEMS]:
        err_console.print(result.describe(problem), markup=False)
    hidden = len(result.problems) - SHOWN_PROBLEMS
    if hidden > 0:
        err_console.print(f"... and {hidden} more skipped rows", markup=False)
    typer.echo(
        f"added {result.added}, updated {result.updated}, unchanged {result.unchanged}, "
        f"skipped {result.skipped}"
    )


@contextmanager
def _progress(file: Path) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich bar on stderr for big files, only when a person is watching."""
    try:
        big = file.stat().st_size >= PROGRESS_BYTES
    except OSError:
        big = False
    if not (big and err_console.is_terminal):
        yield None
        return
    columns = (TextColumn("importing"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("import", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@subscribers_app.command("add")
def add(
    email: Annotated[str, typer.Argument(help="The address.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    topics: Annotated[
        str | None,
        typer.Option(help="Comma-separated topic names or slugs; '' for all topics."),
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone for local-time sends, e.g. Europe/Paris.")
    ] = None,
) -> None:
    """Add a subscriber (active), or update the name/topics of an existing one.

    An existing subscriber keeps their status: this never re-activates an
    address that unsubscribed, bounced or complained.
    """
    topic_names = parse_topic_list(topics, ",") if topics is not None else None
    with session_scope() as session:
        result = people.add_subscriber(
            session, email, name=name, topics=topic_names, timezone=timezone
        )
        subscriber = result.subscriber
        action = Action.SUBSCRIBER_ADD if result.created else Action.SUBSCRIBER_UPDATE
        record(session, action, subscriber.email)
        chosen = ", ".join(sorted(t.slug for t in subscriber.topics)) or "all topics"
        verb = "added" if result.created else "updated"
        typer.echo(f"{verb} {subscriber.email} ({subscriber.status}; {chosen})")
        if suppression.is_suppressed(session, subscriber.email):
            err_console.print(
                f"note: {subscriber.email} is on the suppression list; no send will reach it",
                markup=False,
            )


@subscribers_app.command("unsubscribe")
def unsubscribe(email: Annotated[str, typer.Argument(help="The address.")]) -> None:
    """Stop every send to an address (the person can subscribe again later)."""
    with session_scope() as session:
        subscriber = people.unsubscribe(session, email)
        record(session, Action.SUBSCRIBER_UNSUBSCRIBE, subscriber.email)
        typer.echo(f"{subscriber.email}: {subscriber.status}")


@subscribers_app.command("suppress")
def suppress(
    email: Annotated[str, typer.Argument(help="The address.")],
    reason: Annotated[str, typer.Option(help="Why it is blocked.")] = "manual",
) -> None:
    """Block an address for good: no send reaches it, whatever a later import says."""
    with session_scope() as session:
        result = suppression.suppress(session, email, reason)
        row = result.suppression
        if result.created:
            record(session, Action.SUBSCRIBER_SUPPRESS, row.email, {"reason": row.reason})
        note = "suppressed" if result.created else "already suppressed"
        typer.echo(f"{row.email}: {note} ({row.reason})")


@subscribers_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    status: Annotated[
        str | None, typer.Option(help=f"Only this status ({', '.join(SUBSCRIBER_STATUSES)}).")
    ] = None,
) -> None:
    """Every subscriber with status and topics (no topics = all topics)."""
    with session_scope() as session:
        views = list(people.iter_subscribers(session, status=status))
    if as_json:
        page = SubscriberPage(subscribers=[SubscriberOut.of(v) for v in views], next=None)
        typer.echo(json.dumps(page.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    table = Table("email", "name", "status", "topics")
    for view in views:
        status = f"{view.status}, suppressed" if view.suppressed else view.status
        table.add_row(view.email, view.name, status, ", ".join(view.topics) or "(all)")
    out.print(table)
    out.print(f"{len(views)} subscribers")


@subscribers_app.command("export")
def export() -> None:
    """Every subscriber as CSV on stdout (email,name,topics,status); re-importable.

    A cell a spreadsheet would run as a formula (one starting with =, +, -, @,
    a tab or a carriage return) is written with a leading apostrophe;
    `briefmail subscribers import` takes it off again.
    """
    with session_scope() as session:
        rows = write_csv(session, sys.stdout)
        record(session, Action.SUBSCRIBERS_EXPORT, "subscribers.csv", {"rows": rows})
