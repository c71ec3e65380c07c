"""A complete email message from filled parts: one builder for preview, outbox and SMTP.

`list_unsubscribe_headers` is the one place the List-Unsubscribe pair is written;
the SendGrid backend puts the same dictionary into its per-recipient headers, so
every transport offers the same one-click unsubscribe (RFC 8058).

The recipient's name is written by `render.addresses`, the rule SendGrid's body uses
too, and the To: header is kept exactly as that rule folded it: the email package
refolds a header set by assignment when it writes the message, and Python 3.11
refolds a decoded display name without its quotes, so a comma in a long name would
become a second recipient. A header the parser read is written back as it was read
(`refold_source="none"`), so the To: header goes in that way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid, parseaddr

from briefmail import clock
from briefmail.render.addresses import address_header

_AS_WRITTEN = policy.default.clone(refold_source="none")


def list_unsubscribe_headers(unsubscribe_url: str, mailto: str = "") -> dict[str, str]:
    """`List-Unsubscribe` (the one-click URL, then a mailto) and `List-Unsubscribe-Post`."""
    targets = [f"<{unsubscribe_url}>"]
    if mailto:
        address = mailto.removeprefix("mailto:").split("?", 1)[0]
        targets.append(f"<mailto:{address}?subject=unsubscribe>")
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def build_message(
    *,
    subject: str,
    from_address: str,
    to: str,
    html: str,
    text: str,
    unsubscribe_url: str = "",
    to_name: str = "",
    unsubscribe_mailto: str = "",
    reply_to: str = "",
    date: datetime | None = None,
    message_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """multipart/alternative: the text part first, the HTML part last (the preferred one).

    `to` is the address and `to_name` the person's name; `unsubscribe_url` empty (a
    transactional message) leaves the List-Unsubscribe pair out."""
    message = _addressed_to(to_name, to)
    message["Subject"] = subject
    message["From"] = from_address
    if reply_to:
        message["Reply-To"] = reply_to
    message["Date"] = format_datetime(date or clock.now())
    message["Message-ID"] = message_id or make_msgid(domain=_domain(from_address))
    if unsubscribe_url:  # every brief has one; a staff alarm mail has none
        for name, value in list_unsubscribe_headers(unsubscribe_url, unsubscribe_mailto).items():
            message[name] = value
    for name, value in (headers or {}).items():
        message[name] = value
    message["MIME-Version"] = "1.0"
    # Quoted-printable keeps both parts readable in the raw message (and to filters).
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


def _addressed_to(name: str, email: str) -> EmailMessage:
    """A message with only its To: header, read by the parser so it is written as folded."""
    head = f"To: {address_header('To', name, email)}\n\n".encode("ascii")
    message = BytesParser(policy=_AS_WRITTEN).parsebytes(head)
    assert isinstance(message, EmailMessage)  # the policy's message factory
    return message


def _domain(address: str) -> str:
    _, email = parseaddr(address)
    try:
        return Address(addr_spec=email).domain or "localhost"
    except (ValueError, IndexError):
        return "localhost"
