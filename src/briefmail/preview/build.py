"""The email exactly as a sample subscriber would receive it, without sending anything.

Rendering is the real one; only the per-recipient values differ: tracked links go
straight to their destinations (so editors can check them), while unsubscribe and
preference links are real signed URLs under the public URL for a sample subscriber.
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from briefmail.briefs.model import Brief
from briefmail.briefs.parse import load_brief
from briefmail.config import Settings
from briefmail.preview.warnings import PreviewWarning, find_warnings, sendgrid_limits
from briefmail.render import personalise as p
from briefmail.render.email import render_email
from briefmail.render.message import build_message
from briefmail.render.model import RenderedEmail
from briefmail.render.reason import topics_phrase
from briefmail.sending.sendgrid_limits import RecipientFit, measure
from briefmail.tracking.links import recipient_values

SAMPLE_SUBSCRIBER_ID = 0
# Not a secret: it only signs the sample subscriber's links in a preview.
SAMPLE_SECRET = "preview-sample-subscriber"  # noqa: S105
SAMPLE_NAME = "Sample Reader"
SAMPLE_EMAIL = "reader@example.org"


@dataclass(frozen=True, slots=True)
class PreviewOptions:
    """What a preview needs from the settings; the CLI builds it, services never read env."""

    public_url: str
    signing_keys: Sequence[bytes]
    from_address: str
    postal_address: str
    unsubscribe_mailto: str = ""
    reply_to: str = ""
    lang: str = "en"

    @classmethod
    def from_settings(cls, settings: Settings) -> PreviewOptions:
        return cls(
            public_url=settings.public_url,
            signing_keys=tuple(settings.signing_keys()),
            from_address=settings.from_address,
            postal_address=settings.postal_address,
            unsubscribe_mailto=settings.unsubscribe_mailto,
            reply_to=settings.reply_to,
            lang=settings.lang,
        )


@dataclass(frozen=True, slots=True)
class Preview:
    brief: Brief
    rendered: RenderedEmail
    html: str
    text: str
    message: EmailMessage
    warnings: tuple[PreviewWarning, ...]
    # One recipient's values against SendGrid's per-personalization limits.
    recipient_fit: RecipientFit

    @property
    def html_bytes(self) -> int:
        return len(self.html.encode("utf-8"))

    @property
    def text_bytes(self) -> int:
        return len(self.text.encode("utf-8"))

    @property
    def tracked_links(self) -> int:
        """Links a reader can click (the hidden honeypot is not one)."""
        return sum(1 for link in self.rendered.links if link.kind != "honeypot")


def sample_values(
    brief: Brief, rendered: RenderedEmail, options: PreviewOptions
) -> tuple[dict[str, str], dict[str, str]]:
    """Placeholder values for the (HTML, text) parts of the sample subscriber's copy."""
    values = recipient_values(
        keys=options.signing_keys,
        public_url=options.public_url,
        send_id=0,
        link_ids=(),
        subscriber_id=SAMPLE_SUBSCRIBER_ID,
        subscriber_secret=SAMPLE_SECRET,
        name=SAMPLE_NAME,
        topics_text=topics_phrase([topic.name for topic in brief.topics]),
    )
    html_values = dict(values)
    text_values = dict(values)
    for link in rendered.links:
        key = p.link_key(link.link_id)
        html_values[key] = html_lib.escape(link.url)
        text_values[key] = link.url
    return html_values, text_values


def build_preview(path: str | Path, options: PreviewOptions) -> Preview:
    """Parse, render and fill; raises BriefValidationError for a brief with errors."""
    brief = load_brief(path)
    return preview_brief(brief, options)


def preview_brief(brief: Brief, options: PreviewOptions) -> Preview:
    rendered = render_email(
        brief,
        lang=options.lang,
        postal_address=options.postal_address,
        public_url=options.public_url,
    )
    html_values, text_values = sample_values(brief, rendered, options)
    html = p.Template.compile(rendered.html).fill(html_values)
    text = p.Template.compile(rendered.text).fill(text_values)
    message = build_message(
        subject=rendered.subject,
        from_address=options.from_address,
        to=SAMPLE_EMAIL,
        to_name=SAMPLE_NAME,
        html=html,
        text=text,
        unsubscribe_url=text_values[p.UNSUBSCRIBE_URL],
        unsubscribe_mailto=options.unsubscribe_mailto,
        reply_to=options.reply_to,
    )
    recipient_fit = measure(
        rendered,
        [topic.name for topic in brief.topics],
        keys=options.signing_keys,
        public_url=options.public_url,
    )
    return Preview(
        brief=brief,
        rendered=rendered,
        html=html,
        text=text,
        message=message,
        warnings=(*find_warnings(brief, rendered, html), *sendgrid_limits(recipient_fit)),
        recipient_fit=recipient_fit,
    )
