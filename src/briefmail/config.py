"""One settings object, read from `BRIEFMAIL_*` environment variables and an optional `.env`.

Every default works on a laptop with no server: SQLite, tasks in-process, the outbox
backend. Production overrides them through the environment only; secrets are never
read from anywhere else (the generated development key file is the one exception,
and only for SQLite when `BRIEFMAIL_SECRET_KEY` is unset; see `signing_keys`).
"""

from __future__ import annotations

from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from briefmail import setting_checks
from briefmail.errors import ConfigError
from briefmail.signing_keys import check_key, development_key

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
        description="HMAC key(s) for signed links, comma-separated, each at least 32 bytes; "
        "the first signs, all verify.",
    )
    secret_key_file: Path = Field(
        Path("briefmail.secret"),
        description="Development only: generated key file used with SQLite when "
        "BRIEFMAIL_SECRET_KEY is unset.",
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
    debug: bool = Field(
        False, description="Print the traceback of a failing command after its one-line error."
    )
    console_idle_minutes: int = Field(
        30, ge=1, description="A console session ends after this long without a request."
    )
    sign_in_max_failures: int = Field(
        5,
        ge=1,
        description="Failed console sign-ins per account within 15 minutes before it must wait.",
    )
    api_import_max_mb: int = Field(
        50, ge=1, description="Largest CSV body `POST /api/v1/subscribers/import` accepts, in MB."
    )
    sign_in_max_failures_per_ip: int = Field(
        20,
        ge=1,
        description="Failed console sign-ins per client IP within 15 minutes before it must wait.",
    )
    archive_refresh_seconds: float = Field(
        1.0,
        gt=0,
        description="How often the web app asks the database whether a brief went out, "
        "to refresh its cached archive pages and feed.",
    )
    signup_limit_per_client: int = Field(
        10,
        ge=1,
        description="Sign-ups taken from one client (IPv4 address or IPv6 /64) per 10 minutes.",
    )
    signup_limit_global: int = Field(
        300,
        ge=1,
        description="Sign-ups taken from everyone together per hour (shared through Redis "
        "when it is configured).",
    )

    @field_validator("public_url", "sendgrid_host")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    # Every value is checked here, when a process reads its settings first thing: a bad
    # one stops it with a line naming the variable. The rules are in `setting_checks`.
    @field_validator("*")
    @classmethod
    def _no_control_characters_and_sane_seconds(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            return setting_checks.text(value)
        if (info.field_name or "").endswith("_seconds") and isinstance(value, int | float):
            return setting_checks.seconds(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return setting_checks.database_url(value)

    @field_validator("broker_url", "redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        return setting_checks.redis_url(value)

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str) -> str:
        return setting_checks.smtp_url(value)

    @field_validator("public_url", "sendgrid_host")
    @classmethod
    def _web_url(cls, value: str) -> str:
        return setting_checks.web_url(value)

    @field_validator("from_address")
    @classmethod
    def _from_address(cls, value: str) -> str:
        return setting_checks.mailbox(value)

    @field_validator("reply_to")
    @classmethod
    def _reply_to(cls, value: str) -> str:
        return setting_checks.mailboxes(value)

    @field_validator("unsubscribe_mailto")
    @classmethod
    def _unsubscribe_mailto(cls, value: str) -> str:
        return setting_checks.mailto(value)

    @field_validator("lang")
    @classmethod
    def _lang(cls, value: str) -> str:
        return setting_checks.language(value)

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
        """Keys for HMAC links: the first signs, every one verifies (rotation).

        ConfigError (one line naming the setting) for a key anyone could know or
        guess: the `.env.example` placeholder, or under `MIN_KEY_BYTES`. Without
        BRIEFMAIL_SECRET_KEY only the SQLite demo may use a generated key file: every
        process of a real deployment must sign with the one key the others verify.
        """
        if self.secret_key is not None:
            text = self.secret_key.get_secret_value()
            keys = [k.strip() for k in text.split(",") if k.strip()]
            if not keys:
                raise ConfigError("BRIEFMAIL_SECRET_KEY: is set but holds no key")
            return [check_key(k, "BRIEFMAIL_SECRET_KEY") for k in keys]
        if not self.database_url.startswith("sqlite"):
            raise ConfigError(
                "BRIEFMAIL_SECRET_KEY: is required with a database other than SQLite "
                "(the generated key file is for the SQLite demo only)"
            )
        return [development_key(self.secret_key_file)]

    @property
    def series_name(self) -> str:
        """The publication's name: the display name of the From address."""
        return parseaddr(self.from_address)[0] or "Clinician Learning Brief"

    @property
    def click_redis_url(self) -> str:
        if self.redis_url:
            return self.redis_url
        return self.broker_url if self.broker_url.startswith(("redis://", "rediss://")) else ""


def _split_addresses(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


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
        field = ".".join(str(p) for p in err.get("loc", ())).upper() or "SETTINGS"
        name = field if field.startswith("BRIEFMAIL_") else f"BRIEFMAIL_{field}"
        # Our own checks raise ValueError; pydantic would prefix their text "Value error, ".
        reason = err.get("ctx", {}).get("error") if err.get("type") == "value_error" else None
        parts.append(f"{name}: {reason or err.get('msg', 'invalid')}")
    return "\n".join(parts)  # one line per bad variable
