"""`briefmail schedule`: the standing weekly slot."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from briefmail import clock
from briefmail.accounts.audit import Action
from briefmail.cli import app
from briefmail.cli.audit import record
from briefmail.db.session import session_scope
from briefmail.sending import weekly
from briefmail.sending.scheduling import describe
from briefmail.sending.views import ScheduleOut, current_schedule

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
        rule = weekly.rule_of(slot)
        record(session, Action.SCHEDULE_SET, describe(rule))
        typer.echo(f"weekly slot: {describe(rule)}")
        _print(current_schedule(session, now=now))


@schedule_app.command("show")
def show(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """The slot, its next occurrence and the briefs in line."""
    with session_scope() as session:
        schedule = current_schedule(session, now=clock.now())
    if as_json:
        typer.echo(json.dumps(schedule.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        _print(schedule)


def _print(schedule: ScheduleOut) -> None:
    if schedule.next is None or schedule.summary is None:
        typer.echo("no weekly slot: set one with `briefmail schedule weekly`")
        return
    typer.echo(f"slot: {schedule.summary}")
    typer.echo(f"next: {schedule.next.isoformat()}")
    if schedule.local_time and schedule.next_start is not None:
        typer.echo(f"  (first subscribers, at UTC+14: {schedule.next_start.isoformat()})")
    if not schedule.queue:
        typer.echo("in line: nothing (approve a brief to fill the slot)")
    for index, brief in enumerate(schedule.queue, 1):
        typer.echo(f"in line {index}: {brief.slug} (coverage from {brief.coverage_start})")
