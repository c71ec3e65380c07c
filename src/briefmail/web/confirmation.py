"""The double opt-in email: one transactional message, built and handed to the backend.

The message is built by `render.message.build_message`, like every other email, so it
carries the same List-Unsubscribe pair (a person who did not ask can leave with one
click). It goes out through the configured email backend as a batch of one.
"""

from __future__ import annotations

from dataclasses import dataclass

from briefmail.config import Settings
from briefmail.tracking.links import confirm_url, unsubscribe_url
from briefmail.tracking.tokens import Purpose, subscriber_token
from briefmail.web.pages import Pages
from briefmail.web.subscriptions import Confirmation


@dataclass(frozen=True, slots=True)
class ConfirmationEmail:
    to: str
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
        to=who.email,
        subject=subject,
        text=pages.env.get_template("confirm_email.txt").render(**context),
        html=pages.env.get_template("confirm_email.html").render(**context),
        confirm_url=confirm,
        unsubscribe_url=leave,
    )
