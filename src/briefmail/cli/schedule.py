"""`briefmail schedule`: the standing weekly slot."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.cli import app
from briefmail.db.session import session_scope
from briefmail.sending import weekly
from briefmail.sending.scheduling import describe

schedule_app = typer.Typer(help="The weekly slot.", no_args_is_help=True)
app.add_typer(schedule_app, name="schedule")


@schedule_app.command("weekly")
def set_weekly(
    day: Annotated[str, typer.Option("--day", help="Weekday: mon, tue, ... sun.")],
    time: Annotated[str, typer.Option("--time", help="Wall-clock time, HH:MM.")],
    tz: Annotated[str, typer.Option("--tz", help="IANA zone, e.g. America/New_York.")],
    local_time: Annotated[
        bool,
        typer.Option("--local-time", help="Each subscriber at that time in their own zone."),
    ] = False,
) -> None:
    """Set the standing weekly slot: approved, unsent briefs go out one per slot."""
    now = clock.now()
    with session_scope() as session:
        slot = weekly.set_weekly_slot(
            session, day=day, at=time, tz=tz, local_time=local_time, now=now
        )
        typer.echo(f"weekly slot: {describe(weekly.rule_of(slot))}")
        _show(session)


@schedule_app.command("show")
def show() -> None:
    """The slot, its next occurrence and the briefs in line."""
    with session_scope() as session:
        _show(session)


def _show(session: Session) -> None:
    plan = weekly.plan(session, now=clock.now())
    if plan is None:
        typer.echo("no weekly slot: set one with `briefmail schedule weekly`")
        return
    typer.echo(f"slot: {describe(plan.rule)}")
    typer.echo(f"next: {plan.next_occurrence.isoformat()}")
    if plan.rule.local_time:
        typer.echo(f"  (first subscribers, at UTC+14: {plan.next_start.isoformat()})")
    if not plan.queue:
        typer.echo("in line: nothing (approve a brief to fill the slot)")
    for index, brief in enumerate(plan.queue, 1):
        typer.echo(f"in line {index}: {brief.slug} (coverage from {brief.coverage_start})")
