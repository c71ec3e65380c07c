"""Subscribers and topics, for a CRM: list (keyset-paginated), add, change, unsubscribe,
import a CSV.

`POST /subscribers` adds an *active* subscriber at once, without the confirmation
email of the public sign-up form: the caller (a CRM holding the person's consent)
vouches for it. It never re-activates an address that unsubscribed, bounced or
complained, nor one on the suppression list (409): only the person can.
"""

from __future__ import annotations

import base64
import binascii
from tempfile import SpooledTemporaryFile
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from briefmail import clock
from briefmail.accounts import audit
from briefmail.api.auth import Caller, scope
from briefmail.api.context import ApiContext, api_context
from briefmail.api.limits import read_capped
from briefmail.api.problems import FieldInvalid, about, responses
from briefmail.audience import subscribers as people
from briefmail.audience.csv_import import import_csv_stream
from briefmail.audience.topics import list_topics
from briefmail.audience.views import (
    ImportOut,
    SubscriberOut,
    SubscriberPage,
    SubscriberStatus,
    TopicsOut,
)
from briefmail.db.session import INTEGER_RANGE

router = APIRouter(tags=["subscribers"])
UPLOAD_NAME = "<request body>"
# Uploads up to this size stay in memory; larger ones spill to a temporary file.
SPOOL_BYTES = 1024 * 1024


class SubscriberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str
    name: str = ""
    topics: list[str] = Field(default_factory=list, description="Names or slugs; [] = all.")
    timezone: str | None = Field(None, description="IANA zone for local-time sends.")


class SubscriberPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    topics: list[str] | None = Field(None, description="Names or slugs; [] = all topics.")
    timezone: str | None = Field(None, description='IANA zone; "" clears it.')


def _cursor(after: int | None) -> str | None:
    return base64.urlsafe_b64encode(str(after).encode()).decode().rstrip("=") if after else None


def _after(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        after = int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise FieldInvalid("cursor", "not a cursor this API gave out") from None
    if after not in INTEGER_RANGE or after < 0:
        raise FieldInvalid("cursor", "not a cursor this API gave out")
    return after


@router.get("/subscribers", response_model=SubscriberPage, responses=responses(401, 403, 422))
def subscribers(
    status: Annotated[
        SubscriberStatus | None,
        BeforeValidator(lambda value: value or None),  # `status=` filters nothing
        Query(description="Empty or absent: any."),
    ] = None,
    topic: Annotated[str | None, Query(description="Those who chose this topic.")] = None,
    q: Annotated[str | None, Query(description="Part of the email or name.")] = None,
    cursor: Annotated[str | None, Query(description="`next` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    _: Caller = scope("read"),
    ctx: ApiContext = Depends(api_context),
) -> SubscriberPage:
    """Subscribers in a stable order, a page at a time; follow `next` until it is null."""
    after = _after(cursor)
    with ctx.transaction() as session, about("topic"):
        views, last = people.page_subscribers(
            session, status=status, topic=topic, q=q, after=after, limit=limit
        )
    return SubscriberPage(subscribers=[SubscriberOut.of(v) for v in views], next=_cursor(last))


@router.post(
    "/subscribers",
    response_model=SubscriberOut,
    status_code=201,
    responses={
        200: {"description": "Updated", "model": SubscriberOut},
        **responses(401, 403, 409, 422),
    },
)
def add_subscriber(
    body: SubscriberIn,
    response: Response,
    caller: Caller = scope("subscribers:write"),
    ctx: ApiContext = Depends(api_context),
) -> SubscriberOut:
    """Add an active subscriber (201), or change an existing one's name and topics (200)."""
    with ctx.transaction() as session, about("topics"):
        with about("email"):
            people.normalise_email(body.email)
        with about("name"):
            people.clean_name(body.name)
        with about("timezone"):
            people.clean_timezone(body.timezone)
        result = people.add_subscriber(
            session,
            body.email,
            name=body.name,
            topics=body.topics,
            timezone=body.timezone,
            refuse_stopped=True,
        )
        action = audit.Action.SUBSCRIBER_ADD if result.created else audit.Action.SUBSCRIBER_UPDATE
        audit.record(session, caller.actor, action, result.subscriber.email, now=clock.now())
        response.status_code = 201 if result.created else 200
        return SubscriberOut.of(people.view_of(session, result.subscriber))


@router.get(
    "/subscribers/{email}", response_model=SubscriberOut, responses=responses(401, 403, 404, 422)
)
def subscriber(
    email: str, _: Caller = scope("read"), ctx: ApiContext = Depends(api_context)
) -> SubscriberOut:
    """One subscriber."""
    with ctx.transaction() as session:
        return SubscriberOut.of(people.view_of(session, people.get_subscriber(session, email)))


@router.patch(
    "/subscribers/{email}", response_model=SubscriberOut, responses=responses(401, 403, 404, 422)
)
def change_subscriber(
    email: str,
    body: SubscriberPatch,
    caller: Caller = scope("subscribers:write"),
    ctx: ApiContext = Depends(api_context),
) -> SubscriberOut:
    """Change the name, topics or time zone; never the status."""
    with ctx.transaction() as session, about("topics"):
        if body.name is not None:
            with about("name"):
                people.clean_name(body.name)
        if body.timezone is not None:
            with about("timezone"):
                people.clean_timezone(body.timezone)
        row = people.update_subscriber(
            session, email, name=body.name, topics=body.topics, timezone=body.timezone
        )
        changed = sorted(body.model_dump(exclude_unset=True))
        audit.record(
            session,
            caller.actor,
            audit.Action.SUBSCRIBER_UPDATE,
            row.email,
            now=clock.now(),
            detail={"changed": changed},
        )
        return SubscriberOut.of(people.view_of(session, row))


@router.post(
    "/subscribers/{email}/unsubscribe",
    response_model=SubscriberOut,
    responses=responses(401, 403, 404, 422),
)
def unsubscribe(
    email: str, caller: Caller = scope("subscribers:write"), ctx: ApiContext = Depends(api_context)
) -> SubscriberOut:
    """Stop every send to the address (a bounced or complained one keeps that status)."""
    with ctx.transaction() as session:
        row = people.unsubscribe(session, email)
        audit.record(
            session, caller.actor, audit.Action.SUBSCRIBER_UNSUBSCRIBE, row.email, now=clock.now()
        )
        return SubscriberOut.of(people.view_of(session, row))


@router.post(
    "/subscribers/import",
    response_model=ImportOut,
    responses=responses(401, 403, 413, 422),
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    },
)
async def import_subscribers(
    request: Request, caller: Caller = scope("subscribers:write")
) -> ImportOut:
    """A CSV as for `briefmail subscribers import` (header `email,name,topics`, optional
    `status`): bad rows are skipped and listed by line; the rest is one transaction."""
    ctx = api_context(request)
    limit = ctx.settings.api_import_max_mb * 1_000_000
    with SpooledTemporaryFile(max_size=SPOOL_BYTES) as body:
        size = await read_capped(request.stream(), body, limit)
        body.seek(0)
        return await run_in_threadpool(_import, ctx, body, size, caller)


def _import(
    ctx: ApiContext, body: SpooledTemporaryFile[bytes], size: int, caller: Caller
) -> ImportOut:
    with ctx.transaction() as session:
        result = import_csv_stream(session, body, UPLOAD_NAME, size=size)  # type: ignore[arg-type]
        out = ImportOut.of(result)
        audit.record(
            session,
            caller.actor,
            audit.Action.SUBSCRIBERS_IMPORT,
            f"{size} bytes",
            now=clock.now(),
            detail={**out.model_dump(exclude={"problems"}), "skipped": result.skipped},
        )
        return out


@router.get("/topics", response_model=TopicsOut, tags=["topics"], responses=responses(401, 403))
def topics(_: Caller = scope("read"), ctx: ApiContext = Depends(api_context)) -> TopicsOut:
    """Every topic with its active, not suppressed subscribers, as `topics list --json`."""
    with ctx.transaction() as session:
        return TopicsOut.of(list_topics(session))
