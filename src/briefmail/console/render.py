"""Console pages: one autoescaping Jinja environment, and the few words pages share.

Templates get the signed-in person (`visit`), their CSRF token (every form renders
it with `csrf_field()`), `can(permission)` to show only what their role may do (the
server checks again on every action), and a notice chosen by a fixed key from the
query string, so no text from a URL is ever echoed into a page.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import available_timezones

import jinja2
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from briefmail import clock
from briefmail.accounts.roles import Permission, can
from briefmail.config import Settings

if TYPE_CHECKING:
    from briefmail.console.auth import Visit

TEMPLATES = Path(__file__).with_name("templates")
CSRF_FIELD = "csrf_token"
# Short confirmations after a POST redirects back (`?done=KEY`).
NOTICES = {
    "approved": "Approved.",
    "proof": "Proof sent.",
    "scheduled": "Scheduled.",
    "sending": "Sending now.",
    "cancelled": "Cancelled: nothing more goes out.",
    "accepted": "Batch marked accepted.",
    "resend": "Batch will be sent again.",
    "slot": "Weekly slot saved.",
    "added": "Subscriber saved.",
    "unsubscribed": "Unsubscribed.",
    "suppressed": "Suppressed: no send will reach this address.",
    "signed-out": "You are signed out.",
}
# Navigation: (path, label, permission needed to see it).
NAV: tuple[tuple[str, str, Permission], ...] = (
    ("/console/", "Dashboard", Permission.BRIEFS_READ),
    ("/console/briefs", "Briefs", Permission.BRIEFS_READ),
    ("/console/sends", "Sends", Permission.SENDS_READ),
    ("/console/schedule", "Schedule", Permission.SCHEDULE_READ),
    ("/console/subscribers", "Subscribers", Permission.SUBSCRIBERS_READ),
    ("/console/reports", "Reports", Permission.REPORTS_READ),
    ("/console/audit", "Audit", Permission.AUDIT_READ),
)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _when(value: Any) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


class Renderer:
    def __init__(self, settings: Settings) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["percent"] = _percent
        self.env.filters["when"] = _when
        self.env.globals.update(
            lang=settings.lang,
            Permission=Permission,
            zones=sorted(available_timezones()),
            now=clock.now,
            minute=timedelta(minutes=1),
        )

    def page(
        self,
        request: Request,
        visit: Visit | None,
        template: str,
        status: int = 200,
        /,
        **context: Any,
    ) -> HTMLResponse:
        html = self.env.get_template(template).render(**self.common(request, visit), **context)
        return HTMLResponse(html, status_code=status)

    def common(self, request: Request, visit: Visit | None) -> dict[str, Any]:
        token = visit.csrf if visit is not None else ""
        role = visit.role if visit is not None else ""
        return {
            "visit": visit,
            "path": request.url.path,
            "notice": NOTICES.get(request.query_params.get("done", "")),
            "nav": [(href, label) for href, label, needed in NAV if can(role, needed)],
            "can": lambda permission: can(role, permission),
            "csrf_field": lambda: Markup(  # noqa: S704 - a hex token, escaped anyway
                f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(token)}">'
            ),
        }
