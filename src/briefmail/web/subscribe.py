"""`/subscribe` and `/confirm/TOKEN`: double opt-in.

A sign-up stores a `pending` subscriber and emails a confirmation link; following the
link makes them `active`. Pending subscribers never get briefs. The sign-up answer is
the same whoever the address belongs to, so the form cannot be used to find out who
is subscribed, and an active subscriber is never changed by it.

The form may be embedded on another site (the marketing page), so `/subscribe` does
not insist on our origin; double opt-in is what makes a forged sign-up harmless, and
a per-client limit keeps it from becoming a mail cannon.

Following a confirmation link is a GET, and mail scanners follow links: a request
that looks automated (HEAD, prefetch, scanner user agent or network) is shown a
button to press instead of confirming by itself.
"""

from __future__ import annotations

import logging

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from briefmail import clock
from briefmail.errors import InvalidInputError
from briefmail.tracking.classifier import RequestFacts, request_reason
from briefmail.tracking.links import preferences_url
from briefmail.tracking.tokens import Purpose, subscriber_token
from briefmail.web import subscriptions
from briefmail.web.confirmation import ConfirmationEmail, Mailer, confirmation_email
from briefmail.web.context import context
from briefmail.web.forms import check_form_mac, form_mac, read_form, same_origin
from briefmail.web.pages import client_ip
from briefmail.web.redirect import prefetch_hints

log = logging.getLogger(__name__)

CONFIRM_FORM = "confirm"
_MAX_TOPICS = 100


async def subscribe(request: Request) -> Response:
    ctx = context(request)
    if request.method in ("GET", "HEAD"):
        topics = await ctx.db(subscriptions.all_topics)
        return ctx.pages.render(
            "subscribe.html",
            title="Subscribe",
            topics=topics,
            error=None,
            email="",
            name="",
            chosen=set(),
        )
    if not ctx.signups.allow(client_ip(request) or "?"):
        return ctx.pages.error(
            429, "Please wait a moment", "Too many sign-ups from here. Please try again later."
        )
    form = await read_form(request)
    if form is None:
        return ctx.pages.error(400, "Something went wrong", "The form could not be read.")
    email = str(form.get("email", "")).strip()
    name = str(form.get("name", ""))
    chosen = [str(v) for v in form.getlist("topics")][:_MAX_TOPICS]
    if form.get("website"):  # the hidden field only bots fill in: look done, do nothing
        return _sent(request)
    try:
        who = await ctx.db(subscriptions.request_subscription, email, name, chosen, now=clock.now())
    except InvalidInputError as exc:
        topics = await ctx.db(subscriptions.all_topics)
        message = "Please enter a valid email address." if "email" in str(exc) else str(exc)
        return ctx.pages.render(
            "subscribe.html",
            400,
            title="Subscribe",
            topics=topics,
            error=message,
            email=email,
            name=name,
            chosen=set(chosen),
        )
    response = _sent(request)
    if who is not None:
        # Mailed after the answer is sent, and a failure only logged: the answer must be
        # the same, as fast and with the same status, whether or not a mail goes out,
        # or timing and errors would tell who is subscribed.
        letter = confirmation_email(ctx.settings, ctx.keys, ctx.pages, who)
        response.background = BackgroundTask(_mail, ctx.mailer, letter)
    return response


def _mail(mailer: Mailer, letter: ConfirmationEmail) -> None:
    try:
        mailer(letter)
    except Exception:
        log.exception(
            "could not send the confirmation email to subscriber %s", letter.subscriber_id
        )


def _sent(request: Request) -> Response:
    return context(request).pages.render("subscribe_sent.html", title="Check your inbox")


async def confirm(request: Request) -> Response:
    ctx = context(request)
    token: str = request.path_params["token"]
    reader = await ctx.db(subscriptions.reader_from_token, ctx.keys, token, Purpose.CONFIRM)
    if reader is None:
        return ctx.pages.not_found()
    if request.method == "POST":
        form = await read_form(request)
        mac = str(form.get("form_mac", "")) if form is not None else ""
        if not check_form_mac(ctx.keys, CONFIRM_FORM, token, mac) or not same_origin(
            request, ctx.settings.public_url
        ):
            return ctx.pages.error(
                403, "Please try again", "This form could not be accepted. Open the link again."
            )
    elif reader.status != "active" and _looks_automated(request):
        return ctx.pages.render(
            "confirm.html",
            title="Confirm your subscription",
            email=reader.email,
            form_mac=form_mac(ctx.keys, CONFIRM_FORM, token),
        )
    status = await ctx.db(subscriptions.confirm, reader.id)
    if status == "unsubscribed":
        return ctx.pages.error(
            410,
            "This link has expired",
            "You unsubscribed after this link was sent. To subscribe again, please sign up again.",
        )
    if status != "active":
        return ctx.pages.error(
            409,
            "We cannot send to this address",
            "This address is blocked after a bounce or spam report. Please contact us.",
        )
    manage = preferences_url(
        ctx.settings.public_url,
        subscriber_token(ctx.keys, Purpose.PREFERENCES, reader.id, reader.secret),
    )
    return ctx.pages.render(
        "confirmed.html", title="You are subscribed", email=reader.email, preferences_url=manage
    )


def _looks_automated(request: Request) -> bool:
    facts = RequestFacts(
        method=request.method,
        user_agent=request.headers.get("user-agent", ""),
        ip=client_ip(request),
        purpose=prefetch_hints(request.scope["headers"]),
        link_id=1,  # not the honeypot: only the request itself is judged
    )
    return request_reason(facts) is not None
