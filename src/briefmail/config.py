"""One settings object, read from `BRIEFMAIL_*` environment variables and an optional `.env`.

Every default works on a laptop with no server: SQLite, tasks in-process, the outbox
backend. Production overrides them through the environment only; secrets are never
read from anywhere else (the generated development key file is the one exception,
and only when `BRIEFMAIL_SECRET_KEY` is unset).
"""

from __future__ import annotations

import os
import secrets
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from briefmail.errors import ConfigError

EmailBackendName = Literal["outbox", "smtp", "sendgrid"]


class Settings(BaseSettings):
    """Each field is documented in README's configuration table (a test keeps them in step)."""

    model_config = SettingsConfigDict(
        env_prefix="BRIEFMAIL_",
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
    )

    database_url: str = Field(
        "sqlite:///briefmail.db", description="SQLAlchemy URL; SQLite file or PostgreSQL."
    )
    broker_url: str = Field(
        "", description="Celery broker (Redis URL). Empty: tasks run in-process."
    )
    email_backend: EmailBackendName = Field(
        "outbox", description="Where mail goes: outbox (.eml files), smtp or sendgrid."
    )
    outbox_dir: Path = Field(Path("outbox"), description="Folder for the outbox backend.")
    smtp_url: str = Field(
        "smtp://localhost:1025",
        description="SMTP server for the smtp backend (smtp:// or smtps://).",
    )
    sendgrid_api_key: SecretStr | None = Field(None, description="SendGrid API key.")
    sendgrid_host: str = Field(
        "https://api.sendgrid.com", description="SendGrid API base URL (tests point it locally)."
    )
    sendgrid_webhook_public_key: str = Field(
        "", description="SendGrid Event Webhook verification key, base64 DER (ECDSA P-256)."
    )
    from_address: str = Field(
        "Clinician Learning Brief <brief@example.org>",
        alias="BRIEFMAIL_FROM",
        description="From header of every brief.",
    )
    reply_to: str = Field("", description="Optional Reply-To header.")
    unsubscribe_mailto: str = Field(
        "unsubscribe@example.org",
        description="Mailbox named in List-Unsubscribe beside the one-click URL.",
    )
    public_url: str = Field(
        "http://localhost:8000", description="Base URL of the web app, used in every public link."
    )
    secret_key: SecretStr | None = Field(
        None,
        description="HMAC key(s) for signed links, comma-separated; the first signs, all verify.",
    )
    secret_key_file: Path = Field(
        Path("briefmail.secret"),
        description="Development only: generated key file used when BRIEFMAIL_SECRET_KEY is unset.",
    )
    postal_address: str = Field(
        "Clinician Learning Brief · 100 Example Street · Boston, MA 02110 · USA",
        description="Postal address printed in every footer (CAN-SPAM).",
    )
    scanner_window_seconds: int = Field(
        60, ge=0, description="Clicks this soon after a batch was accepted count as automated."
    )
    click_stop_seconds: float = Field(
        30.0,
        ge=0,
        description="On a graceful stop, how long the web app retries storing buffered clicks "
        "before it keeps them in the click spool.",
    )
    click_spool_dir: Path = Field(
        Path("click-spool"),
        description="Folder for clicks a stop could not store; the next start stores them.",
    )
    batch_size: int = Field(
        1000, ge=1, le=1000, description="Recipients per provider request (SendGrid allows 1000)."
    )
    send_max_attempts: int = Field(
        6, ge=1, description="Attempts per batch on 429/5xx before it is marked failed."
    )
    send_retry_base_seconds: float = Field(
        30.0,
        gt=0,
        description="First retry delay after a 429/5xx without Retry-After; doubles per attempt.",
    )
    send_lease_seconds: int = Field(
        300,
        ge=10,
        description="A worker whose heartbeat has been silent this long is taken for dead; "
        "the batches it was sending are settled.",
    )
    send_resend_grace_seconds: int = Field(
        900,
        ge=0,
        description="A batch in doubt is resent (by itself, or after --resend) no sooner than "
        "this after the attempt in doubt, for its late events.",
    )
    send_stall_seconds: int = Field(
        600,
        ge=1,
        description="A send with work due and no progress this long raises an alarm; so does "
        "a weekly slot this long past with approved briefs waiting and no send.",
    )
    alert_to: str = Field(
        "",
        description="Addresses (comma-separated) mailed once per alarm through the email "
        "backend: a failed or stalled send, a missed weekly slot, a batch in doubt.",
    )
    http_timeout_seconds: float = Field(
        30.0, gt=0, description="Timeout of each provider HTTP request (connect and read)."
    )
    tick_seconds: float = Field(
        60.0, gt=0, description="How often beat's tick looks for due sends and batches."
    )
    redis_url: str = Field(
        "", description="Redis for the click stream; defaults to the broker URL when that is Redis."
    )
    lang: str = Field("en", description="Language of the email (the lang attribute).")

    @field_validator("public_url", "sendgrid_host")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("alert_to")
    @classmethod
    def _addresses(cls, value: str) -> str:
        for address in _split_addresses(value):
            if parseaddr(address)[1].count("@") != 1:
                raise ValueError(f"{address!r} is not an email address")
        return value

    @property
    def alert_recipients(self) -> list[str]:
        return _split_addresses(self.alert_to)

    def signing_keys(self) -> list[bytes]:
        """Keys for HMAC links: the first signs, every one verifies (rotation)."""
        if self.secret_key is not None:
            keys = [k.strip() for k in self.secret_key.get_secret_value().split(",") if k.strip()]
            if not keys:
                raise ConfigError("BRIEFMAIL_SECRET_KEY: is set but holds no key")
            if any(len(k) < 16 for k in keys):
                raise ConfigError("BRIEFMAIL_SECRET_KEY: every key must be at least 16 characters")
            return [k.encode() for k in keys]
        return [_development_key(self.secret_key_file)]

    @property
    def click_redis_url(self) -> str:
        if self.redis_url:
            return self.redis_url
        return self.broker_url if self.broker_url.startswith(("redis://", "rediss://")) else ""


def _split_addresses(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _development_key(path: Path) -> bytes:
    """A per-checkout random key so the embedded default works without configuration."""
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip().encode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing env."""
    try:
        return Settings()
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise ConfigError(_describe_validation_error(exc)) from None


def _describe_validation_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for err in errors():
        field = ".".join(str(p) for p in err.get("loc", ())) or "settings"
        parts.append(f"BRIEFMAIL_{field.upper()}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)
