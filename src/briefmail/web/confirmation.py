"""The double opt-in email: one transactional message, built and handed to the backend.

Whoever filled in the form may not own the address, so the email carries nothing
they typed but the address itself: a fixed subject, a fixed greeting, no name (not
even in the To: header), no topics, only our words and the confirmation link, which
opens a page where the owner chooses and confirms. Nobody can use it to send our
domain's mail with their words in it.

It goes out through the configured email backend as a batch of one, so every
transport (outbox, SMTP, SendGrid) builds it the one way it builds a brief
(`render.message.build_message` for whole messages, the v3 body for SendGrid). It
belongs to no send and to no subscriber: its ids are send 0, batch 0 and the
request's id as the delivery id (so the outbox keeps one file per request and
webhook events for it match no delivery row; a hard bounce still suppresses the
address). Being one transactional message, not a list, it has no List-Unsubscribe.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from briefmail.audience.signups import Letter
from briefmail.config import Settings
from briefmail.sending.backends import backend_from_settings
from briefmail.sending.backends.base import OutgoingBatch, OutgoingContent, OutgoingRecipient
from briefmail.tracking.links import confirm_url
from briefmail.tracking.tokens import signup_token
from briefmail.web.pages import Pages


@dataclass(frozen=True, slots=True)
class ConfirmationEmail:
    request_id: int
    to: str
    subject: str
    text: str
    html: str
    confirm_url: str


def confirmation_email(
    settings: Settings, keys: list[bytes], pages: Pages, letter: Letter
) -> ConfirmationEmail:
    confirm = confirm_url(settings.public_url, signup_token(keys, letter.request_id, letter.secret))
    context = {**pages.common, "confirm_url": confirm}
    return ConfirmationEmail(
        request_id=letter.request_id,
        to=letter.email,
        subject=f"Confirm your subscription to {pages.common['series']}",
        text=pages.env.get_template("confirm_email.txt").render(**context),
        html=pages.env.get_template("confirm_email.html").render(**context),
        confirm_url=confirm,
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
                    delivery_id=email.request_id,
                    subscriber_id=None,
                    email=email.to,
                    name="",
                    values={},
                    headers={},
                )
            ],
        )
        backend = backend_from_settings(settings)
        try:
            backend.send_batch(batch)
        finally:
            backend.close()

    return send
