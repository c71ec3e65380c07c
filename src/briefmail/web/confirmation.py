"""The double opt-in email: one transactional message, built and handed to the backend.

It goes out through the configured email backend as a batch of one, so every
transport (outbox, SMTP, SendGrid) builds it the one way it builds a brief
(`render.message.build_message` for whole messages, the v3 body for SendGrid) and it
carries the same List-Unsubscribe pair: a person who did not ask can leave in one
click. A transactional message belongs to no send: its ids are send 0, batch 0 and
the subscriber's id as the delivery id (so the outbox keeps one file per person and
webhook events for it match no delivery row).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from briefmail.config import Settings
from briefmail.render import personalise
from briefmail.render.message import list_unsubscribe_headers
from briefmail.sending.backends import backend_from_settings
from briefmail.sending.backends.base import OutgoingBatch, OutgoingContent, OutgoingRecipient
from briefmail.tracking.links import confirm_url, unsubscribe_url
from briefmail.tracking.tokens import Purpose, subscriber_token
from briefmail.web.pages import Pages
from briefmail.web.subscriptions import Confirmation


@dataclass(frozen=True, slots=True)
class ConfirmationEmail:
    subscriber_id: int
    to: str
    name: str
    subject: str
    text: str
    html: str
    confirm_url: str
    unsubscribe_url: str


def confirmation_email(
    settings: Settings, keys: list[bytes], pages: Pages, who: Confirmation
) -> ConfirmationEmail:
    confirm = confirm_url(
        settings.public_url, subscriber_token(keys, Purpose.CONFIRM, who.subscriber_id, who.secret)
    )
    leave = unsubscribe_url(
        settings.public_url,
        subscriber_token(keys, Purpose.UNSUBSCRIBE, who.subscriber_id, who.secret),
    )
    context = {**pages.common, "name": who.name, "confirm_url": confirm, "unsubscribe_url": leave}
    subject = f"Confirm your subscription to {pages.common['series']}"
    return ConfirmationEmail(
        subscriber_id=who.subscriber_id,
        to=who.email,
        name=who.name,
        subject=subject,
        text=pages.env.get_template("confirm_email.txt").render(**context),
        html=pages.env.get_template("confirm_email.html").render(**context),
        confirm_url=confirm,
        unsubscribe_url=leave,
    )


Mailer = Callable[[ConfirmationEmail], None]


def backend_mailer(settings: Settings) -> Mailer:
    """Send through the configured backend (blocking; the web layer runs it in a thread)."""

    def send(email: ConfirmationEmail) -> None:
        batch = OutgoingBatch(
            send_id=0,
            batch_id=0,
            attempt_key=f"confirm-{os.urandom(8).hex()}",
            content=OutgoingContent(
                subject=email.subject,
                html=email.html,
                text=email.text,
                from_address=settings.from_address,
                reply_to=settings.reply_to,
            ),
            recipients=[
                OutgoingRecipient(
                    delivery_id=email.subscriber_id,
                    subscriber_id=email.subscriber_id,
                    email=email.to,
                    name=email.name,
                    values={personalise.UNSUBSCRIBE_URL: email.unsubscribe_url},
                    headers=list_unsubscribe_headers(
                        email.unsubscribe_url, settings.unsubscribe_mailto
                    ),
                )
            ],
        )
        backend = backend_from_settings(settings)
        try:
            backend.send_batch(batch)
        finally:
            backend.close()

    return send
