"""Who is asking, and may they: every console handler goes through `guard`.

The session cookie is opaque (`accounts.sessions`): HttpOnly, SameSite=Lax, scoped to
/console, Secure when the public URL is https. Each request finds its live session
(idle ones end there), and the person's *current* role decides; a role change has
already ended their sessions. Every POST must carry the session's CSRF token, and its
Origin (or Referer) must be ours; anything else is a 403 before the handler runs.

Refusals are the same for every action, whatever a page showed: not signed in (a GET
goes to the sign-in page; anything else is 403), role without the permission (403),
CSRF token missing or wrong (403).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from briefmail import clock
from briefmail.accounts import sessions
from briefmail.accounts.audit import Actor
from briefmail.accounts.roles import Permission, can
from briefmail.console.context import ConsoleContext, console
from briefmail.console.render import CSRF_FIELD
from briefmail.errors import BriefmailError, InvalidInputError, NotFoundError
from briefmail.web.forms import same_origin

COOKIE = "briefmail_console"
COOKIE_PATH = "/console"
# Form bodies: small, except the two uploads (a brief, a CSV of subscribers).
FORM_LIMITS = {"max_files": 0, "max_fields": 50, "max_part_size": 64 * 1024}
UPLOAD_LIMITS = {"max_files": 1, "max_fields": 10, "max_part_size": 64 * 1024}


@dataclass(frozen=True, slots=True)
class Visit:
    """The signed-in person behind this request, and the form they posted (POST)."""

    email: str
    role: str
    csrf: str
    ip: str
    form: FormData | None = None

    @property
    def actor(self) -> Actor:
        return Actor("user", self.email, self.ip)

    def field(self, name: str) -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else ""


Handler = Callable[[Request, Visit], Awaitable[Response]]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def set_session_cookie(response: Response, ctx: ConsoleContext, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=ctx.secure_cookies,
    )


def clear_session_cookie(response: Response, ctx: ConsoleContext) -> None:
    response.delete_cookie(
        COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax", secure=ctx.secure_cookies
    )


async def current_visit(request: Request, *, touch: bool = True) -> Visit | None:
    """The live session of this request's cookie (touched unless `touch` is False), or
    None."""
    ctx = console(request)
    token = request.cookies.get(COOKIE, "")
    if not token:
        return None

    def resume(session: Session) -> tuple[str, str] | None:
        active = sessions.resume_session(
            session, token, now=clock.now(), idle=ctx.idle, touch=touch
        )
        return None if active is None else (active.user.email, active.user.role)

    found = await ctx.db(resume)
    if found is None:
        return None
    return Visit(found[0], found[1], sessions.csrf_token(token), client_ip(request))


def csrf_ok(expected: str, given: object) -> bool:
    if not expected or not isinstance(given, str):
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))


async def read_post(request: Request, limits: dict[str, Any]) -> FormData | None:
    """The posted form within `limits`, or None when it is not a readable form."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return None
    try:
        return await request.form(**limits)
    except HTTPException as exc:
        if exc.status_code == 413:
            raise
        return None
    except ValueError:
        return None


def guard(
    permission: Permission, *, upload: bool = False, poll: bool = False
) -> Callable[[Handler], Any]:
    """Run the handler only for a signed-in person whose role has `permission`, and for
    a POST only with the session's CSRF token from our own origin.

    `poll`: a page requests this by itself (htmx), so it does not count as activity.
    An htmx request whose session has ended reloads its page (`HX-Refresh`), which then
    goes to the sign-in page, rather than following a redirect into a fragment."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @wraps(handler)
        async def endpoint(request: Request) -> Response:
            ctx = console(request)
            visit = await current_visit(request, touch=not poll)
            if visit is None:
                if request.headers.get("hx-request") == "true":
                    response = ctx.renderer.page(
                        request, None, "denied.html", 403, reason="signed-out"
                    )
                    response.headers["hx-refresh"] = "true"
                    return response
                if request.method in ("GET", "HEAD"):
                    target = quote(request.url.path, safe="/")
                    return RedirectResponse(f"/console/login?next={target}", status_code=303)
                return ctx.renderer.page(request, None, "denied.html", 403, reason="signed-out")
            if not can(visit.role, permission):
                return ctx.renderer.page(request, visit, "denied.html", 403, reason="role")
            if request.method == "POST":
                form = await read_post(request, UPLOAD_LIMITS if upload else FORM_LIMITS)
                if (
                    form is None
                    or not csrf_ok(visit.csrf, form.get(CSRF_FIELD))
                    or not same_origin(request, ctx.settings.public_url)
                ):
                    return ctx.renderer.page(request, visit, "denied.html", 403, reason="csrf")
                visit = Visit(visit.email, visit.role, visit.csrf, visit.ip, form)
            return await handler(request, visit)

        return endpoint

    return wrap


def back(path: str, done: str) -> RedirectResponse:
    """After a POST: see the result with a GET (the notice is chosen by key)."""
    return RedirectResponse(f"{path}?done={done}", status_code=303)


def refusal_status(exc: BriefmailError) -> int:
    if isinstance(exc, InvalidInputError):
        return 400
    if isinstance(exc, NotFoundError):
        return 404
    return 409


def refused(request: Request, visit: Visit | None, exc: BriefmailError, back_to: str) -> Response:
    """A service said no (bad input 400, not found 404, wrong state 409): its words, and
    the way back."""
    status = refusal_status(exc)
    return console(request).renderer.page(
        request,
        visit,
        "error.html",
        status,
        title="Not found" if status == 404 else "Not done",
        lines=str(exc).splitlines(),
        back_to=back_to,
    )
