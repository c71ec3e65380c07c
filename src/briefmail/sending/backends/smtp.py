"""SMTP (a local mail catcher, or a relay): one connection per batch, one message each.

SMTP has no batch request, so each recipient is one transaction on a shared
connection. A recipient refused by the server fails alone; a connection that breaks
mid-batch reports who was already handed over, so the retry sends only the rest.
Who was handed over is also reported while the batch runs, every `PROGRESS_GROUP`
messages (`OutgoingBatch.progress`), so a worker killed mid-batch leaves at most one
group in doubt instead of the whole batch.
"""

from __future__ import annotations

import smtplib
import ssl
from urllib.parse import unquote, urlsplit

from briefmail.errors import ConfigError
from briefmail.sending.backends.base import (
    BatchResult,
    EmailBackend,
    OutgoingBatch,
    PermanentError,
    TransientError,
)
from briefmail.sending.backends.mime import personal_message

# Messages handed over between two progress reports: one small transaction per group;
# after a crash, at most this many recipients are in doubt.
PROGRESS_GROUP = 20


class SmtpBackend(EmailBackend):
    name = "smtp"

    def __init__(self, url: str, *, timeout: float, unsubscribe_mailto: str = "") -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError(
                f"BRIEFMAIL_SMTP_URL: {url!r} is not smtp://host:port or smtps://host:port"
            )
        self.secure = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.secure else 25)
        self.username = unquote(parts.username or "")
        self.password = unquote(parts.password or "")
        self.timeout = timeout
        self.unsubscribe_mailto = unsubscribe_mailto

    def _connect(self) -> smtplib.SMTP:
        if self.secure:
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def send_batch(self, batch: OutgoingBatch) -> BatchResult:
        sent: set[int] = set()
        refused: dict[int, str] = {}
        try:
            with self._connect() as connection:
                if self.username:
                    connection.login(self.username, self.password)
                group: set[int] = set()
                for r in batch.recipients:
                    message = personal_message(batch, r, self.unsubscribe_mailto)
                    try:
                        connection.send_message(message, to_addrs=[r.email])
                    except smtplib.SMTPRecipientsRefused as exc:
                        refused[r.delivery_id] = f"SMTP refused {r.email}: {exc.recipients}"
                        continue
                    except smtplib.SMTPResponseException as exc:
                        if 500 <= exc.smtp_code < 600:
                            refused[r.delivery_id] = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
                            continue
                        raise
                    sent.add(r.delivery_id)
                    group.add(r.delivery_id)
                    if batch.progress is not None and len(group) >= PROGRESS_GROUP:
                        batch.progress(frozenset(group))
                        group.clear()
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentError(f"SMTP login refused: {exc}", accepted=frozenset(sent)) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientError(
                f"SMTP {self.host}:{self.port}: {exc}", accepted=frozenset(sent)
            ) from exc
        return BatchResult(provider_message_id=None, refused=refused)
