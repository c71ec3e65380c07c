"""Backends behind one interface, chosen by `BRIEFMAIL_EMAIL_BACKEND`.

A mapping from name to factory, not an if-chain: a new backend is one entry.
"""

from __future__ import annotations

from collections.abc import Callable

from briefmail.config import Settings
from briefmail.errors import ConfigError
from briefmail.sending.backends.base import EmailBackend
from briefmail.sending.backends.outbox import OutboxBackend
from briefmail.sending.backends.sendgrid import SendGridBackend
from briefmail.sending.backends.smtp import SmtpBackend


def _outbox(settings: Settings) -> EmailBackend:
    return OutboxBackend(settings.outbox_dir, unsubscribe_mailto=settings.unsubscribe_mailto)


def _smtp(settings: Settings) -> EmailBackend:
    return SmtpBackend(
        settings.smtp_url,
        timeout=settings.http_timeout_seconds,
        unsubscribe_mailto=settings.unsubscribe_mailto,
    )


def _sendgrid(settings: Settings) -> EmailBackend:
    if settings.sendgrid_api_key is None or not settings.sendgrid_api_key.get_secret_value():
        raise ConfigError("BRIEFMAIL_SENDGRID_API_KEY: is required for the sendgrid backend")
    return SendGridBackend(
        api_key=settings.sendgrid_api_key.get_secret_value(),
        host=settings.sendgrid_host,
        timeout=settings.http_timeout_seconds,
    )


BACKENDS: dict[str, Callable[[Settings], EmailBackend]] = {
    "outbox": _outbox,
    "smtp": _smtp,
    "sendgrid": _sendgrid,
}


def backend_from_settings(settings: Settings) -> EmailBackend:
    factory = BACKENDS.get(settings.email_backend)
    if factory is None:  # pragma: no cover - the setting is a Literal
        raise ConfigError(f"BRIEFMAIL_EMAIL_BACKEND: unknown backend {settings.email_backend!r}")
    return factory(settings)
