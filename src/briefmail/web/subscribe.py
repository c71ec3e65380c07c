"""`/subscribe` and `/confirm/TOKEN`: double opt-in without side effects.

A sign-up stores a request apart from the subscribers (`audience.signups`) and emails
a confirmation link; it changes no subscriber. The answer is the same whoever the
address belongs to, so the form cannot be used to find out who is subscribed.

The form may be embedded on another site (the marketing page), so `/subscribe` does
not insist on our origin; double opt-in is what makes a forged sign-up harmless, and
the limits (`throttle`: per client, per /64, for everyone) keep it from becoming a
mail cannon.

Following the link is a GET, and mail scanners follow links: a GET only shows the
page (the address, the topics asked for, an optional name, one button). Only its
form, posted back with its MAC from our own origin, subscribes, with what the owner
chose on it: so nothing a stranger typed reaches a subscriber unless the owner
submits it.
"""

from __future__ import annotations

import logging

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from briefmail import clock
from briefmail.audience import signups
from briefmail.audience.signups import PendingSignup
from briefmail.errors import InvalidInputError
from briefmail.tracking.links import preferences_url
from briefmail.tracking.tokens import Purpose, subscriber_token
from briefmail.web import subscriptions
from briefmail.web.confirmation import ConfirmationEmail, Mailer, confirmation_email
from briefmail.web.context import WebContext, context
from briefmail.web.forms import check_form_mac, form_mac, read_form, same_origin
from briefmail.web.pages import client_ip

log = logging.getLogger(__name__)

CONFIRM_FORM = "confirm"
_MAX_TOPICS = 100


async def subscribe(request: Request) -> Response:
    ctx = context(request)
    if request.method in ("GET", "HEAD"):
        return await _form(ctx)
    if not await ctx.signups.allow(client_ip(request)):
        return ctx.pages.error(
            429, "Please wait a moment", "Too many sign-ups just now. Please try again later."
        )
    form = await read_form(request)
    if form is None:
        return ctx.pages.error(400, "Something went wrong", "The form could not be read.")
    email = str(form.get("email", "")).strip()
    chosen = [str(v) for v in form.getlist("topics")][:_MAX_TOPICS]
    if form.get("website"):  # the hidden field only bots fill in: look done, do nothing
        return _sent(ctx)
    try:
        letter = await ctx.db(signups.request_signup, email, chosen, now=clock.now())
    except InvalidInputError as exc:
        message = "Please enter a valid email address." if "email" in str(exc) else str(exc)
        return await _form(ctx, error=message, email=email, chosen=chosen)
    response = _sent(ctx)
    if letter is not None:
        # Mailed after the answer is sent, and a failure only logged: the answer must be
        # the same, as fast and with the same status, whether or not a mail goes out,
        # or timing and errors would tell who is subscribed.
        mail = confirmation_email(ctx.settings, ctx.keys, ctx.pages, letter)
        response.background = BackgroundTask(_mail, ctx.mailer, mail)
    return response


async def _form(
    ctx: WebContext, *, error: str | None = None, email: str = "", chosen: list[str] | None = None
) -> Response:
    topics = await ctx.db(subscriptions.all_topics)
    return ctx.pages.render(
        "subscribe.html",
        400 if error else 200,
        title="Subscribe",
        topics=topics,
        error=error,
        email=email,
        chosen=set(chosen or ()),
    )


def _mail(mailer: Mailer, mail: ConfirmationEmail) -> None:
    try:
        mailer(mail)
    except Exception:
        log.exception("could not send the confirmation email of sign-up %s", mail.request_id)


def _sent(ctx: WebContext) -> Response:
    return ctx.pages.render("subscribe_sent.html", title="Check your inbox")


async def confirm(request: Request) -> Response:
    ctx = context(request)
    token: str = request.path_params["token"]
    pending = await ctx.db(subscriptions.signup_from_token, ctx.keys, token, now=clock.now())
    if pending is None:
        return ctx.pages.not_found()
    if pending.expired:
        return _expired(ctx)
    if request.method in ("GET", "HEAD"):
        return await _confirm_page(ctx, token, pending, name="", chosen=list(pending.topics))
    form = await read_form(request)
    if form is None:
        return ctx.pages.error(400, "Something went wrong", "The form could not be read.")
    if not check_form_mac(ctx.keys, CONFIRM_FORM, token, str(form.get("form_mac", ""))) or not (
        same_origin(request, ctx.settings.public_url)
    ):
        return ctx.pages.error(
            403, "Please try again", "This form could not be accepted. Open the link again."
        )
    name = str(form.get("name", ""))
    chosen = [str(v) for v in form.getlist("topics")][:_MAX_TOPICS]
    try:
        done = await ctx.db(
            signups.confirm_signup, pending.id, topic_slugs=chosen, name=name, now=clock.now()
        )
    except InvalidInputError as exc:
        return await _confirm_page(ctx, token, pending, name=name, chosen=chosen, error=str(exc))
    if done.status == "missing":
        return ctx.pages.not_found()  # confirmed a moment ago (a second press)
    if done.status == "expired":
        return _expired(ctx)
    if done.status != "active":
        return ctx.pages.error(
            409,
            "We cannot send to this address",
            "This address is blocked after a bounce or spam report. Please contact us.",
        )
    manage = preferences_url(
        ctx.settings.public_url,
        subscriber_token(ctx.keys, Purpose.PREFERENCES, done.subscriber_id, done.secret),
    )
    return ctx.pages.render(
        "confirmed.html", title="You are subscribed", email=pending.email, preferences_url=manage
    )


async def _confirm_page(
    ctx: WebContext,
    token: str,
    pending: PendingSignup,
    *,
    name: str,
    chosen: list[str],
    error: str | None = None,
) -> Response:
    topics = await ctx.db(subscriptions.all_topics)
    return ctx.pages.render(
        "confirm.html",
        400 if error else 200,
        title="Confirm your subscription",
        email=pending.email,
        name=name,
        topics=topics,
        chosen=set(chosen),
        error=error,
        form_mac=form_mac(ctx.keys, CONFIRM_FORM, token),
    )


def _expired(ctx: WebContext) -> Response:
    return ctx.pages.error(
        410, "This link has expired", "Please sign up again to get a new confirmation link."
    )
