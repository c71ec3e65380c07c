"""`/console/audit` (admins): the audit log, newest first, the same rows as
`briefmail audit list` (`accounts.audit`), filtered by actor or action, paged back."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from briefmail.accounts import audit
from briefmail.accounts.roles import Permission
from briefmail.accounts.views import AuditEntryOut
from briefmail.console.auth import Visit, guard
from briefmail.console.context import console

PAGE_SIZE = 100


@guard(Permission.AUDIT_READ)
async def audit_page(request: Request, visit: Visit) -> Response:
    ctx = console(request)
    params = request.query_params
    actor = params.get("actor", "").strip()[:320]
    action = params.get("action", "").strip()[:60]
    before_text = params.get("before", "")
    before = int(before_text) if before_text.isdigit() else None
    entries = await ctx.db(
        lambda session: [
            AuditEntryOut.of(e)
            for e in audit.list_entries(
                session,
                limit=PAGE_SIZE,
                before=before,
                actor=actor or None,
                action=action or None,
            )
        ]
    )
    return ctx.renderer.page(
        request,
        visit,
        "audit.html",
        title="Audit log",
        entries=entries,
        actor=actor,
        action=action,
        actions=[a.value for a in audit.Action],
        older=entries[-1].id if len(entries) == PAGE_SIZE else None,
    )
