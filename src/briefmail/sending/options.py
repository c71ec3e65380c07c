"""What the send pipeline needs from the settings, as one plain value.

Built once by the CLI or the worker from `get_settings()` and passed down, so the
services below never read the environment themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from briefmail.config import Settings
from briefmail.sending.backends.smtp import PROGRESS_GROUP
from briefmail.sending.doubt import DoubtPolicy
from briefmail.sending.retry import RetryPolicy


@dataclass(frozen=True, slots=True)
class SendOptions:
    keys: tuple[bytes, ...]
    public_url: str
    from_address: str
    unsubscribe_mailto: str
    postal_address: str
    reply_to: str = ""
    lang: str = "en"
    batch_size: int = 1000
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(6, 30.0))
    lease_seconds: float = 300.0
    doubt: DoubtPolicy = field(default_factory=DoubtPolicy)
    stall_seconds: float = 600.0
    alert_to: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> SendOptions:
        return cls(
            keys=tuple(settings.signing_keys()),
            public_url=settings.public_url,
            from_address=settings.from_address,
            unsubscribe_mailto=settings.unsubscribe_mailto,
            postal_address=settings.postal_address,
            reply_to=settings.reply_to,
            lang=settings.lang,
            batch_size=settings.batch_size,
            retry=RetryPolicy(
                max_attempts=settings.send_max_attempts,
                base_seconds=settings.send_retry_base_seconds,
            ),
            lease_seconds=settings.send_lease_seconds,
            doubt=DoubtPolicy(
                grace_seconds=settings.send_resend_grace_seconds,
                request_seconds=settings.http_timeout_seconds,
                no_events=_no_events(settings),
            ),
            stall_seconds=settings.send_stall_seconds,
            alert_to=tuple(settings.alert_recipients),
        )


def _no_events(settings: Settings) -> str | None:
    """Why provider silence about a batch proves nothing with these settings, if it does."""
    if settings.email_backend == "smtp":
        return (
            f"an SMTP server sends no events (progress is recorded every {PROGRESS_GROUP} "
            "messages: at most that many of them may already have it)"
        )
    if settings.email_backend != "sendgrid":
        return f"the {settings.email_backend} backend sends no events"
    if not settings.sendgrid_webhook_public_key:
        return "no SendGrid event webhook is configured (BRIEFMAIL_SENDGRID_WEBHOOK_PUBLIC_KEY)"
    return None
