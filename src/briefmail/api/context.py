"""What API handlers share, built once per app from the settings."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from briefmail.config import Settings
from briefmail.db.session import session_factory, transaction
from briefmail.preview.build import PreviewOptions
from briefmail.sending import sendgrid_limits
from briefmail.sending.options import SendOptions


@dataclass(frozen=True)
class ApiContext:
    settings: Settings
    sessions: sessionmaker[Session]
    preview: PreviewOptions
    # The options of a SendGrid send, to refuse a brief SendGrid would (None otherwise).
    check_fit: SendOptions | None

    @classmethod
    def build(cls, settings: Settings) -> ApiContext:
        return cls(
            settings=settings,
            sessions=session_factory(settings.database_url),
            preview=PreviewOptions.from_settings(settings),
            check_fit=(
                SendOptions.from_settings(settings)
                if sendgrid_limits.applies_to(settings.email_backend)
                else None
            ),
        )

    def transaction(self) -> AbstractContextManager[Session]:
        """A session committed on success, rolled back on any error, as the CLI's."""
        return transaction(self.sessions)


def api_context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.api
    return ctx
