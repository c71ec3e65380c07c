"""`briefmail sends`: list, show, cancel, resolve unknown batches, run due work."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from briefmail import clock
from briefmail.accounts.audit import Action
from briefmail.cli import app
from briefmail.cli.audit import record
from briefmail.cli.send import summary
from briefmail.config import get_settings
from briefmail.db.session import session_scope
from briefmail.errors import InvalidInputError
from briefmail.sending import service
from briefmail.sending.engine_factory import engine_from_settings
from briefmail.sending.views import SendList, SendOut

sends_app = typer.Typer(help="Sends: progress, cancel, resolve.", no_args_is_help=True)
app.add_typer(sends_app, name="sends")

_out = Console(highlight=False, soft_wrap=True)


@sends_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many, newest first.")] = 50,
) -> None:
    """Recent sends, newest first, with their alarms (and a missed weekly slot's)."""
    stall = get_settings().send_stall_seconds
    with session_scope() as session:
        views = service.list_sends(session, limit=limit, stall_seconds=stall)
        standing = service.standing_alarms(session, stall_seconds=stall)
    if as_json:
        typer.echo(json.dumps(SendList.of(views, standing).model_dump(mode="json"), indent=2))
        return
    table = Table(
        "id",
        "brief",
        "kind",
        "status",
        "scheduled for",
        "recipients",
        "accepted",
        "failed",
        "alarms",
    )
    for v in views:
        table.add_row(
            str(v.id),
            v.brief,
            v.kind,
            v.status,
            v.scheduled_for.isoformat(timespec="minutes"),
            str(v.recipients),
            str(v.accepted),
            str(v.failed),
            ", ".join(dict.fromkeys(alarm.kind for alarm in v.alarms)),
        )
    _out.print(table)
    for alarm in standing:
        _out.print(f"alarm: {alarm.message}", markup=False)


@sends_app.command("show")
def show(
    send_id: Annotated[int, typer.Argument(help="The send id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One send: status, counts, batch states, errors, notes on settled batches, alarms."""
    stall = get_settings().send_stall_seconds
    with session_scope() as session:
        view = service.get_send(session, send_id, stall_seconds=stall)
    if as_json:
        typer.echo(json.dumps(SendOut.of(view).model_dump(mode="json"), indent=2))
        return
    typer.echo(summary(view))
    typer.echo(f"scheduled for {view.scheduled_for.isoformat()}")
    if view.batches:
        typer.echo("batches: " + ", ".join(f"{k} {n}" for k, n in sorted(view.batches.items())))
    for error in view.errors:
        typer.echo(f"error: {error}")
    for note in view.notes:
        typer.echo(f"note: {note}")
    for alarm in view.alarms:
        typer.echo(f"alarm: {alarm.message}")


@sends_app.command("cancel")
def cancel(send_id: Annotated[int, typer.Argument(help="The send id.")]) -> None:
    """Stop what has not gone yet (a batch already in flight finishes)."""
    with session_scope() as session:
        view = service.cancel_send(session, send_id, now=clock.now())
        record(session, Action.SEND_CANCEL, str(send_id))
    typer.echo(summary(view))


@sends_app.command("resolve")
def resolve(
    batch_id: Annotated[int, typer.Argument(help="The batch id named in `sends show`.")],
    accepted: Annotated[
        bool, typer.Option("--accepted", help="It went out (the provider's log shows it).")
    ] = False,
    resend: Annotated[
        bool,
        typer.Option(
            "--resend",
            help="It did not go out: send it again, BRIEFMAIL_SEND_RESEND_GRACE_SECONDS "
            "after the attempt in doubt.",
        ),
    ] = False,
    by: Annotated[str, typer.Option("--by", help="Who decided (for the record).")] = "",
) -> None:
    """Settle a batch whose outcome a crash left unknown: --accepted or --resend.

    With --resend it prints when the batch goes again; provider events for the
    earlier attempt that arrive before then settle it as accepted instead.
    """
    if accepted == resend:
        raise InvalidInputError("give exactly one of --accepted or --resend")
    now = clock.now()
    grace = get_settings().send_resend_grace_seconds
    with session_scope() as session:
        batch = service.resolve_batch(
            session, batch_id, accepted=accepted, now=now, by=by, grace_seconds=grace
        )
        verdict = "accepted" if accepted else "resend"
        record(session, Action.BATCH_RESOLVE, str(batch.id), {"verdict": verdict, "by": by})
        line = f"batch {batch.id} of send {batch.send_id}: {batch.status}"
        if batch.status == "pending":
            line += "; " + resend_notice(clock.as_utc(batch.due_at), now)
        typer.echo(line)


def resend_notice(due: datetime, now: datetime) -> str:
    """When a resolved batch goes, and what can still stop it: the operator's verdict
    is not the last word while the provider's events for the old attempt may come."""
    wait = max(0, round((due - now).total_seconds()))
    when = (
        "resending now (a worker takes it at its next tick)"
        if wait == 0
        else f"resending at {due.isoformat(timespec='seconds')} (in {_duration(wait)})"
    )
    return (
        f"{when}; provider events for the earlier attempt arriving before then "
        "settle it as accepted instead"
    )


def _duration(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


@sends_app.command("run-due")
def run_due() -> None:
    """Do everything due now in this process (no broker needed), then stop."""
    engine = engine_from_settings(get_settings())
    try:
        report = engine.run_until_idle()
    finally:
        engine.close()
    typer.echo(
        f"started {len(report.started)} send(s), sent {len(report.batches)} batch(es)"
        + (f": {report.batches}" if report.batches else "")
    )
