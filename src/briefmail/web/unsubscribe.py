"""`/u/TOKEN`: leaving the list.

GET shows a page with one button (a link opened by a mail scanner must not
unsubscribe anybody). POST with the body `List-Unsubscribe=One-Click` (RFC 8058) is
what mailbox providers send from their "Unsubscribe" button: it unsubscribes at once
and answers 200 with no page to follow. A POST from our own page does the same and
shows that it is done. Both are idempotent.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from briefmail.tracking.links import preferences_url
from briefmail.tracking.tokens import Purpose, subscriber_token
from briefmail.web import subscriptions
from briefmail.web.context import context
from briefmail.web.forms import check_form_mac, form_mac, read_form, same_origin
from briefmail.web.pages import plain

FORM = "unsubscribe"


async def unsubscribe(request: Request) -> Response:
    ctx = context(request)
    token: str = request.path_params["token"]
    reader = await ctx.db(subscriptions.reader_from_token, ctx.keys, token, Purpose.UNSUBSCRIBE)
    if reader is None:
        return ctx.pages.not_found()
    if request.method in ("GET", "HEAD"):
        if reader.status != "active" and reader.status != "pending":
            return _done(request, reader.email)
        return ctx.pages.render(
            "unsubscribe.html",
            title="Unsubscribe",
            email=reader.email,
            form_mac=form_mac(ctx.keys, FORM, token),
            preferences_url=preferences_url(
                ctx.settings.public_url,
                subscriber_token(
                    ctx.keys, Purpose.PREFERENCES, reader.id, reader.secret, reader.send_id
                ),
            ),
        )
    form = await read_form(request)
    if form is None:
        return ctx.pages.error(400, "Something went wrong", "The form could not be read.")
    if form.get("List-Unsubscribe") == "One-Click":
        await ctx.db(subscriptions.unsubscribe, reader.id, reader.send_id)
        return plain("Unsubscribed.\n")
    mac = form.get("form_mac")
    if not isinstance(mac, str):
        return ctx.pages.error(400, "Something went wrong", "The form could not be read.")
    if not check_form_mac(ctx.keys, FORM, token, mac) or not same_origin(
        request, ctx.settings.public_url
    ):
        return ctx.pages.error(
            403, "Please try again", "This form could not be accepted. Open the link again."
        )
    await ctx.db(subscriptions.unsubscribe, reader.id, reader.send_id)
    return _done(request, reader.email)


def _done(request: Request, email: str) -> Response:
    return context(request).pages.render("unsubscribed.html", title="Unsubscribed", email=email)
