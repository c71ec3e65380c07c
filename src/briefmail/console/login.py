"""Sign in and sign out.

The sign-in form has no session to bind a CSRF token to, so it gets one of its own: a
random value in a short-lived cookie, and its MAC in the form (a page elsewhere can
neither read the cookie nor compute the MAC). Every refusal reads "Wrong email or
password", whatever was wrong; a throttled account or client is told to wait,
without saying whether the account exists (`accounts.signin`).
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from briefmail import clock
from briefmail.accounts import audit, sessions
from briefmail.accounts.audit import Action, Actor
from briefmail.accounts.signin import SignIn, sign_in
from briefmail.console.auth import (
    COOKIE,
    COOKIE_PATH,
    FORM_LIMITS,
    clear_session_cookie,
    client_ip,
    csrf_ok,
    current_visit,
    read_post,
    set_session_cookie,
)
from briefmail.console.context import console
from briefmail.console.render import CSRF_FIELD
from briefmail.web.forms import check_form_mac, form_mac, same_origin

PRE_COOKIE = "briefmail_console_login"
FORM_NAME = "console-login"
WRONG = "Wrong email or password"


def _next(raw: str) -> str:
    """Where to go after signing in: a console path only (no open redirect)."""
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/"):
        return "/console/"
    if parts.path.startswith("/console/login") or "\\" in raw:
        return "/console/"
    return parts.path


def _form(request: Request, status: int = 200, *, error: str = "", email: str = "") -> Response:
    ctx = console(request)
    value = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
    response = ctx.renderer.page(
        request,
        None,
        "login.html",
        status,
        error=error,
        email=email,
        login_token=form_mac(ctx.settings.signing_keys(), FORM_NAME, value),
        next=_next(request.query_params.get("next", "")),
    )
    response.set_cookie(
        PRE_COOKIE,
        value,
        max_age=3600,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=ctx.secure_cookies,
    )
    return response


async def login(request: Request) -> Response:
    if request.method == "GET":
        if await current_visit(request) is not None:
            return RedirectResponse("/console/", status_code=303)
        return _form(request)
    ctx = console(request)
    form = await read_post(request, FORM_LIMITS)
    pre = request.cookies.get(PRE_COOKIE, "")
    given = form.get("login_token") if form is not None else None
    if (
        form is None
        or not pre
        or not isinstance(given, str)
        or not check_form_mac(ctx.settings.signing_keys(), FORM_NAME, pre, given)
        or not same_origin(request, ctx.settings.public_url)
    ):
        return ctx.renderer.page(request, None, "denied.html", 403, reason="csrf")
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    ip = client_ip(request)
    agent = request.headers.get("user-agent", "")

    def attempt(session: Session) -> SignIn:
        now = clock.now()
        result = sign_in(
            session, email, password, ip=ip, user_agent=agent, now=now, limits=ctx.limits
        )
        if result.outcome == "ok" and result.user is not None:
            actor = Actor("user", result.user.email, ip)
            audit.record(session, actor, Action.SIGN_IN, result.user.email, now=now)
        elif result.outcome == "wrong":
            actor = Actor("user", email.lower()[:320] or "(empty)", ip)
            audit.record(session, actor, Action.SIGN_IN_REFUSED, now=now)
        return result

    result = await ctx.db(attempt)
    if result.outcome == "throttled":
        minutes = max(1, round(result.retry_after / 60))
        message = f"Too many attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}."
        response = _form(request, 429, error=message, email=email)
        response.headers["retry-after"] = str(result.retry_after)
        return response
    if result.outcome != "ok" or result.token is None:
        return _form(request, 200, error=WRONG, email=email)
    target = _next(str(form.get("next") or ""))
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, ctx, result.token)
    response.delete_cookie(PRE_COOKIE, path=COOKIE_PATH)
    return response


async def logout(request: Request) -> Response:
    """Sign out (POST with the session's CSRF token): the cookie opens nothing more."""
    ctx = console(request)
    visit = await current_visit(request)
    if visit is None:
        return RedirectResponse("/console/login", status_code=303)
    form = await read_post(request, FORM_LIMITS)
    if form is None or not csrf_ok(visit.csrf, form.get(CSRF_FIELD)):
        return ctx.renderer.page(request, visit, "denied.html", 403, reason="csrf")
    token = request.cookies.get(COOKIE, "")

    def end(session: Session) -> None:
        now = clock.now()
        sessions.end_session(session, token, now=now)
        audit.record(session, visit.actor, Action.SIGN_OUT, visit.email, now=now)

    await ctx.db(end)
    response = RedirectResponse("/console/login?done=signed-out", status_code=303)
    clear_session_cookie(response, ctx)
    return response
