"""Building the engine from the settings: the one place sending meets configuration."""

from __future__ import annotations

from briefmail.config import Settings
from briefmail.db.session import session_factory
from briefmail.sending.backends import backend_from_settings
from briefmail.sending.engine import Engine
from briefmail.sending.options import SendOptions


def engine_from_settings(settings: Settings) -> Engine:
    return Engine(
        session_factory(settings.database_url),
        backend_from_settings(settings),
        SendOptions.from_settings(settings),
    )
