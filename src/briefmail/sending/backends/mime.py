"""One personalised message per recipient, for the backends that send whole messages
(outbox and SMTP); SendGrid fills the placeholders itself from `substitutions`."""

from __future__ import annotations

from email.message import EmailMessage

from briefmail.render import personalise as p
from briefmail.render.message import build_message
from briefmail.sending.backends.base import OutgoingBatch, OutgoingRecipient


def personal_message(
    batch: OutgoingBatch, recipient: OutgoingRecipient, unsubscribe_mailto: str
) -> EmailMessage:
    content = batch.content
    values = recipient.values
    return build_message(
        subject=content.subject,
        from_address=content.from_address,
        to=recipient.email,
        to_name=recipient.name,
        html=content.html_template.fill(values),
        text=content.text_template.fill(values),
        # A transactional message (a sign-up confirmation, a staff alarm) has no list.
        unsubscribe_url=values.get(p.UNSUBSCRIBE_URL, ""),
        unsubscribe_mailto=unsubscribe_mailto,
        reply_to=content.reply_to,
        # Our ids in the message, as SendGrid carries them in custom_args.
        headers={
            "X-Briefmail-Send": str(batch.send_id),
            "X-Briefmail-Delivery": str(recipient.delivery_id),
            "X-Briefmail-Attempt": batch.attempt_key,
        },
    )
