"""What the send pipeline needs from the settings, as one plain value.

Built once by the CLI or the worker from `get_settings()` and passed down, so the
services below never read the environment themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from briefmail.config import Settings
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
        )
