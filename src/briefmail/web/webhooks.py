"""`POST /webhooks/{provider}`: provider event batches.

In this order, each step refusing before the next costs anything: the signature
headers and their timestamp (no body read yet), the body's size (`WEBHOOK_BODY_LIMIT`),
the signature over the body, then parsing with limits. Every refusal of the signature
(missing, malformed, wrong, stale, no key configured) is the same bare 403, so a
prober learns nothing about which check failed.

A signed payload is still input and never a 500: a body that is not a JSON list
within limits is a 400 with nothing applied; an event that cannot be stored is
refused alone and logged, the batch's other events are applied, and the answer is a
400 naming the refused items (SendGrid retries it; applying is idempotent, so the
retry changes nothing more). Only the database being unreachable answers 503, for
the provider to retry later.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import InterfaceError, OperationalError, StatementError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from briefmail import clock
from briefmail.errors import InvalidInputError
from briefmail.tracking.events import (
    DeliveryEvent,
    Refusal,
    SignatureError,
    apply_events,
)
from briefmail.tracking.providers import PROVIDERS
from briefmail.web.context import WebContext, context
from briefmail.web.pages import plain

log = logging.getLogger(__name__)

# SendGrid posts a batch every 30 seconds or when it reaches 768 KB, whichever comes
# first; the event that crosses 768 KB still goes in, so a batch can be a little over.
WEBHOOK_BODY_LIMIT = 1024 * 1024
_LOGGED_REFUSALS = 10


async def sendgrid(request: Request) -> Response:
    return await _receive(request, "sendgrid")


async def _receive(request: Request, name: str) -> Response:
    ctx = context(request)
    provider = PROVIDERS[name]
    key = ctx.webhook_keys.get(name)
    try:
        provider.check_headers(key, request.headers, clock.now())
        body = await request.body()  # the route's limit answers 413 past WEBHOOK_BODY_LIMIT
        provider.verify(key, request.headers, body, clock.now())
    except SignatureError as exc:
        log.warning("%s webhook refused: %s", name, exc)
        return plain("Forbidden\n", 403)
    try:
        batch = provider.parse(body)
    except InvalidInputError as exc:
        log.warning("%s webhook: payload refused: %s", name, exc)
        return plain(f"Bad request: {exc}\n", 400)
    refused = list(batch.refused)
    try:
        new = await _apply(ctx, batch.events, batch.positions, refused, clock.now())
    except (OperationalError, InterfaceError) as exc:
        log.error("%s webhook: database unavailable: %s", name, type(exc).__name__)
        return plain("Service unavailable\n", 503)
    refused.sort(key=lambda refusal: refusal.index)
    for refusal in refused[:_LOGGED_REFUSALS]:
        log.warning("%s webhook: event %d refused: %s", name, refusal.index, refusal.reason)
    if len(refused) > _LOGGED_REFUSALS:
        log.warning("%s webhook: %d more events refused", name, len(refused) - _LOGGED_REFUSALS)
    body_out: dict[str, object] = {"received": len(batch.events) + len(refused), "new": new}
    if refused:
        body_out["refused"] = [{"index": r.index, "reason": r.reason} for r in refused]
    return JSONResponse(
        body_out, status_code=400 if refused else 200, headers={"cache-control": "no-store"}
    )


async def _apply(
    ctx: WebContext,
    events: Sequence[DeliveryEvent],
    positions: Sequence[int],
    refused: list[Refusal],
    now: datetime,
) -> int:
    """Apply the batch in one transaction; if the database refuses some event's data,
    apply them one by one so that only that event is refused (added to `refused`).
    Returns how many events were new."""
    try:
        return await ctx.db(apply_events, events, received_at=now)
    except (OperationalError, InterfaceError):
        raise
    except StatementError as exc:
        log.warning("webhook batch refused by the database (%s); applying event by event", exc)
    new = 0
    for position, event in zip(positions, events, strict=True):
        try:
            new += await ctx.db(apply_events, [event], received_at=now)
        except (OperationalError, InterfaceError):
            raise
        except StatementError as exc:
            reason = f"the database refused it ({type(exc.orig).__name__})"
            refused.append(Refusal(position, reason))
    return new
