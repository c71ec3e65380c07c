"""`POST /webhooks/{provider}`: provider event batches.

Verify first, then parse, then apply in one transaction. Every refusal of the
signature (missing, malformed, wrong, stale, no key configured) is the same bare 403,
so a prober learns nothing about which check failed. A database error answers 500,
which makes the provider retry later; applying is idempotent, so retries are safe.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from briefmail import clock
from briefmail.errors import InvalidInputError
from briefmail.tracking.events import PROVIDERS, SignatureError, apply_events
from briefmail.web.context import context
from briefmail.web.pages import plain

log = logging.getLogger(__name__)

WEBHOOK_BODY_LIMIT = 8 * 1024 * 1024  # SendGrid batches stay well below this


async def sendgrid(request: Request) -> Response:
    return await _receive(request, "sendgrid")


async def _receive(request: Request, name: str) -> Response:
    ctx = context(request)
    provider = PROVIDERS[name]
    body = await request.body()
    try:
        provider.verify(ctx.webhook_keys.get(name), request.headers, body, clock.now())
    except SignatureError as exc:
        log.warning("%s webhook refused: %s", name, exc)
        return plain("Forbidden\n", 403)
    try:
        events = provider.parse(body)
    except InvalidInputError as exc:
        return plain(f"Bad request: {exc}\n", 400)
    result = await ctx.db(apply_events, events, received_at=clock.now())
    return JSONResponse(
        {"received": result.received, "new": result.new},
        headers={"cache-control": "no-store"},
    )
