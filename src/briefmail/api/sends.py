"""Sends (schedule, proof, watch, cancel) and the weekly slot."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from briefmail import clock
from briefmail.accounts import audit
from briefmail.api.auth import Caller, scope
from briefmail.api.context import ApiContext, api_context
from briefmail.api.problems import about, responses
from briefmail.sending import service, weekly
from briefmail.sending.scheduling import describe
from briefmail.sending.views import ScheduleOut, SendList, SendOut, current_schedule
from briefmail.web.dispatch import start_send

router = APIRouter(tags=["sends"])


class SendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brief: str = Field(description="The brief's slug.")
    at: datetime | None = Field(
        None, description="ISO 8601 with an offset; null sends now. Not for a proof."
    )
    topics: list[str] | None = Field(
        None, description="Only these of the brief's topics; null for all of them."
    )
    test_to: list[str] | None = Field(
        None,
        description="A proof to these addresses only (drafts allowed, kept out of reports).",
    )


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: str = Field(description="Weekday: mon, tue, ... sun.", examples=["mon"])
    time: str = Field(description="Wall-clock time, HH:MM (24-hour).", examples=["09:00"])
    tz: str = Field(description="IANA time zone.", examples=["America/New_York"])
    local_time: bool = Field(False, description="Each subscriber at that time in their zone.")


@router.post(
    "/sends", response_model=SendOut, status_code=201, responses=responses(401, 403, 404, 409, 422)
)
def create_send(
    body: SendIn,
    caller: Caller = scope("sends:write"),
    ctx: ApiContext = Depends(api_context),
) -> SendOut:
    """Send an approved brief to its (narrowed) audience now or at `at`, or a proof of
    any brief to `test_to`; 409 for a draft (unless a proof)."""
    now = clock.now()
    blame = "test_to" if body.test_to is not None else "topics"
    with ctx.transaction() as session, about(blame):
        row = service.request_send(
            session,
            body.brief,
            at=body.at,
            now=now,
            topics=body.topics,
            test_to=body.test_to,
            by=f"api token {caller.token}",
            check_fit=ctx.check_fit,
        )
        action = audit.Action.SEND_PROOF if row.kind == "test" else audit.Action.SEND_CREATE
        when = clock.as_utc(row.scheduled_for)
        audit.record(
            session,
            caller.actor,
            action,
            str(row.id),
            now=now,
            detail={"brief": row.brief.slug, "scheduled_for": when.isoformat()},
        )
        send_id = row.id
    if when <= now:
        start_send(ctx.settings, send_id)
    with ctx.transaction() as session:
        return SendOut.of(
            service.get_send(session, send_id, stall_seconds=ctx.settings.send_stall_seconds)
        )


@router.get("/sends", response_model=SendList, responses=responses(401, 403, 422))
def sends(
    limit: Annotated[int, Query(ge=1, le=500, description="How many, newest first.")] = 50,
    _: Caller = scope("read"),
    ctx: ApiContext = Depends(api_context),
) -> SendList:
    """Recent sends, newest first, as `briefmail sends list --json`."""
    with ctx.transaction() as session:
        views = service.list_sends(
            session, limit=limit, stall_seconds=ctx.settings.send_stall_seconds
        )
        return SendList.of(
            views, service.standing_alarms(session, stall_seconds=ctx.settings.send_stall_seconds)
        )


@router.get("/sends/{send_id}", response_model=SendOut, responses=responses(401, 403, 404, 422))
def send(
    send_id: int, _: Caller = scope("read"), ctx: ApiContext = Depends(api_context)
) -> SendOut:
    """One send, as `briefmail sends show ID --json`."""
    with ctx.transaction() as session:
        return SendOut.of(
            service.get_send(session, send_id, stall_seconds=ctx.settings.send_stall_seconds)
        )


@router.post(
    "/sends/{send_id}/cancel", response_model=SendOut, responses=responses(401, 403, 404, 409, 422)
)
def cancel(
    send_id: int, caller: Caller = scope("sends:write"), ctx: ApiContext = Depends(api_context)
) -> SendOut:
    """Stop what has not gone yet (a batch already in flight finishes)."""
    now = clock.now()
    with ctx.transaction() as session:
        view = service.cancel_send(session, send_id, now=now)
        audit.record(session, caller.actor, audit.Action.SEND_CANCEL, str(send_id), now=now)
        return SendOut.of(view)


@router.get(
    "/schedule", response_model=ScheduleOut, tags=["schedule"], responses=responses(401, 403)
)
def schedule(_: Caller = scope("read"), ctx: ApiContext = Depends(api_context)) -> ScheduleOut:
    """The weekly slot, its next occurrence and the approved briefs in line."""
    with ctx.transaction() as session:
        return current_schedule(session, now=clock.now())


@router.put(
    "/schedule", response_model=ScheduleOut, tags=["schedule"], responses=responses(401, 403, 422)
)
def set_schedule(
    body: ScheduleIn, caller: Caller = scope("sends:write"), ctx: ApiContext = Depends(api_context)
) -> ScheduleOut:
    """Set the standing weekly slot: approved, unsent briefs go out one per slot."""
    now = clock.now()
    with ctx.transaction() as session:
        slot = weekly.set_weekly_slot(
            session, day=body.day, at=body.time, tz=body.tz, local_time=body.local_time, now=now
        )
        summary = describe(weekly.rule_of(slot))
        audit.record(session, caller.actor, audit.Action.SCHEDULE_SET, summary, now=now)
        return current_schedule(session, now=now)
