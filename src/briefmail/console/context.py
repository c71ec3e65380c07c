"""What every console handler needs, built once when the app is made.

The console shares the web app's database sessions (`WebContext`); it adds its own
templates and the preview and send options made from the settings. Handlers reach it
as `console(request)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from briefmail.accounts.signin import SignInLimits
from briefmail.config import Settings
from briefmail.console.render import Renderer
from briefmail.db.session import transaction
from briefmail.preview.build import PreviewOptions
from briefmail.sending import sendgrid_limits
from briefmail.sending.options import SendOptions

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class ConsoleContext:
    settings: Settings
    sessions: sessionmaker[Session]
    renderer: Renderer
    preview: PreviewOptions
    # SendGrid refuses too many per-recipient values: checked before a send exists.
    check_fit: SendOptions | None
    idle: timedelta
    limits: SignInLimits
    secure_cookies: bool

    @classmethod
    def build(cls, settings: Settings, sessions: sessionmaker[Session]) -> ConsoleContext:
        send_options = SendOptions.from_settings(settings)
        return cls(
            settings=settings,
            sessions=sessions,
            renderer=Renderer(settings),
            preview=PreviewOptions.from_settings(settings),
            check_fit=send_options if sendgrid_limits.applies_to(settings.email_backend) else None,
            idle=timedelta(minutes=settings.console_idle_minutes),
            limits=SignInLimits.from_settings(settings),
            secure_cookies=settings.public_url.lower().startswith("https://"),
        )

    async def db(
        self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kw: P.kwargs
    ) -> T:
        """Run `fn(session, ...)` in a worker thread and commit, as the CLI's
        `session_scope` does (some services commit on their own, e.g. cancelling a send
        takes the ledger's write lock); rolled back on any error."""

        def work() -> T:
            with transaction(self.sessions) as session:
                return fn(session, *args, **kw)

        return await run_in_threadpool(work)


def console(request: Request) -> ConsoleContext:
    ctx: ConsoleContext = request.app.state.console
    return ctx
