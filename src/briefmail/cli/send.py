"""`briefmail send`: schedule a brief (or a proof) and, with --wait, watch it go."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from briefmail import clock
from briefmail.accounts.audit import Action
from briefmail.cli import app
from briefmail.cli.audit import record
from briefmail.config import get_settings
from briefmail.db.session import session_factory, session_scope
from briefmail.errors import InvalidInputError, StateError
from briefmail.sending import sendgrid_limits, service
from briefmail.sending.engine_factory import engine_from_settings
from briefmail.sending.options import SendOptions
from briefmail.sending.scheduling import zone
from briefmail.sending.service import SendView

_err = Console(stderr=True, highlight=False)


def parse_at(text: str, tz: str) -> datetime:
    """ISO 8601 date-time; one without an offset is read in `tz`."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInputError(
            f"--at: {text!r} is not a date and time such as 2024-01-15T09:00 or "
            "2024-01-15T09:00-05:00"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=zone(tz))


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


class SendProgress:
    """A Rich progress bar on stderr fed with SendViews (stdout keeps the id last)."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("[bold]send {task.fields[send_id]}[/] {task.fields[status]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=_err,
            transient=False,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> SendProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def __call__(self, view: SendView) -> None:
        total = max(view.recipients, 1) if view.status != "scheduled" else None
        if self._task is None:
            self._task = self._progress.add_task(
                "send", total=total, send_id=view.id, status=view.status
            )
        self._progress.update(
            self._task,
            total=total,
            completed=view.done,
            status=view.status,
        )


def summary(view: SendView) -> str:
    line = (
        f"send {view.id} ({view.kind}) of {view.brief}: {view.status}; "
        f"{view.recipients} recipients, {view.accepted} accepted, {view.failed} failed"
    )
    if view.cancelled:
        line += f", {view.cancelled} cancelled"
    return line


@app.command("send")
def send(
    slug: Annotated[str, typer.Argument(help="The brief's slug.")],
    now: Annotated[bool, typer.Option("--now", help="Send now.")] = False,
    at: Annotated[
        str | None, typer.Option("--at", help="Send at this ISO date-time (offset or --tz).")
    ] = None,
    tz: Annotated[str, typer.Option("--tz", help="Zone for an --at without offset.")] = "UTC",
    topics: Annotated[
        str | None, typer.Option("--topics", help="Only these of the brief's topics: a,b.")
    ] = None,
    test_to: Annotated[
        str | None,
        typer.Option("--test-to", help="A proof to these addresses only (drafts allowed)."),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Show progress until it ends.")] = False,
    by: Annotated[str | None, typer.Option("--by", help="Who sends it (for the record).")] = None,
) -> None:
    """Send an approved brief to its topic segment, or a proof; prints the send id last.

    Give exactly one of --now, --at or --test-to. A proof goes to the --test-to
    addresses only, with [TEST] before the subject, and may be of a draft. With
    BRIEFMAIL_BROKER_URL set a worker sends it; without, a due send goes out in
    this process and a later one waits for `briefmail worker` (or for
    `briefmail sends run-due`). Exits 1 if the send failed (the id still comes
    last).
    """
    modes = sum([now, at is not None, test_to is not None])
    if modes != 1:
        raise InvalidInputError("give exactly one of --now, --at DATETIME or --test-to ADDRESSES")
    settings = get_settings()
    current = clock.now()
    # SendGrid refuses too many per-recipient values: refuse such a brief before the send exists.
    check = (
        SendOptions.from_settings(settings)
        if sendgrid_limits.applies_to(settings.email_backend)
        else None
    )
    with session_scope() as session:
        try:
            row = service.request_send(
                session,
                slug,
                at=parse_at(at, tz) if at is not None else None,
                now=current,
                topics=_split(topics) or None,
                test_to=_split(test_to) if test_to is not None else None,
                by=by,
                check_fit=check,
            )
        except service.NotApprovedError as exc:
            hint = f"`briefmail brief approve {exc.slug} --by NAME`, or a proof with --test-to"
            raise StateError(f"{exc}: {hint}") from None
        send_id, due = row.id, clock.as_utc(row.scheduled_for) <= current
        action = Action.SEND_PROOF if row.kind == "test" else Action.SEND_CREATE
        when = clock.as_utc(row.scheduled_for).isoformat()
        record(session, action, str(send_id), {"brief": row.brief.slug, "scheduled_for": when})
    # Queued only now that the send is committed: a worker must find it.
    view: SendView | None = None
    if settings.broker_url:
        if due:
            from worker.tasks import enqueue_work

            enqueue_work()
        if wait:
            with SendProgress() as progress:
                view = service.wait_for_send(session_factory(), send_id, on_progress=progress)
    elif due:
        engine = engine_from_settings(settings)
        try:
            if wait:
                with SendProgress() as progress:
                    view = service.drain_send(engine, send_id, on_progress=progress)
            else:
                view = service.drain_send(engine, send_id)
        finally:
            engine.close()
    else:
        _err.print(
            "no broker configured: `briefmail worker` (or `briefmail sends run-due` when it "
            "is due) sends it",
            markup=False,
        )
    with session_scope() as session:
        view = view or service.get_send(session, send_id)
    typer.echo(summary(view) + f" (scheduled for {view.scheduled_for.isoformat()})")
    for error in view.errors:
        typer.echo(f"  {error}")
    typer.echo(str(send_id))
    if view.status == "failed":  # the id still comes last: `sends show` tells the rest
        raise typer.Exit(1)
