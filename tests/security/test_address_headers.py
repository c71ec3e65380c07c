"""A display name that would split the To: header: whatever a name holds (commas,
colons, quotes, 200 characters, non-ASCII), the message produced still names exactly
one recipient, the subscriber, and shows their name as they wrote it. Checked by
parsing what each transport produces: the .eml the outbox writes, the message an SMTP
server receives, and the To: header SendGrid writes from the JSON `to` it is given
(the name as it is, in front of the address)."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

import pytest

from briefmail.sending.backends.base import OutgoingBatch, OutgoingContent, OutgoingRecipient
from briefmail.sending.backends.outbox import OutboxBackend
from briefmail.sending.backends.sendgrid import SendGridBackend
from briefmail.sending.backends.smtp import SmtpBackend
from tests.fakes.sendgrid_server import API_KEY, FakeSendGrid
from tests.sending.test_backends import catcher

__all__ = ["catcher"]  # the SMTP server fixture

ADDRESS = "reader@example.org"
NAMES = [
    "A" * 40 + ", spy@evil.example, " + "B" * 30,  # a folded long name lost its quotes
    "spy@evil.example, Ann",
    "Team: spy@evil.example;",  # a group
    'Ann "the boss" <spy@evil.example>, x',
    "Ann; spy@evil.example",
    "=?utf-8?q?spy=40evil.example=2C?= Ann",  # looks encoded already
    "Zoë Ångström, spy@evil.example, " + "é" * 150,  # non-ASCII, 200 characters
    "x" * 200,
    "Ann O'Brien-Smith",
]


def batch(name: str) -> OutgoingBatch:
    content = OutgoingContent(
        subject="Subject", html="<p>Hi</p>", text="Hi", from_address="Brief <b@example.org>"
    )
    recipient = OutgoingRecipient(
        delivery_id=1, subscriber_id=1, email=ADDRESS, name=name, values={}, headers={}
    )
    return OutgoingBatch(1, 1, "attempt", content, [recipient])


def check_one_recipient(to_header: str, name: str) -> None:
    """`to_header` as every kind of reader parses it: one address, ours, this name."""
    [(_, address_seen)] = getaddresses([to_header])
    assert address_seen == ADDRESS
    message = message_from_bytes(f"To: {to_header}\n\n".encode(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    [address] = message["To"].addresses
    assert address.addr_spec == ADDRESS
    assert str(make_header(decode_header(to_header))) == f"{name} <{ADDRESS}>"  # RFC 2047


def check_mime(raw: bytes, name: str) -> None:
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("ascii")
    assert all(len(line) <= 78 for line in head.splitlines()), head
    to_header = message_from_bytes(raw, policy=policy.compat32)["To"]
    check_one_recipient(to_header.replace("\r\n", "").replace("\n", ""), name)


@pytest.mark.parametrize("name", NAMES)
def test_no_name_adds_a_recipient_to_an_outbox_message(tmp_path: Path, name: str) -> None:
    OutboxBackend(tmp_path).send_batch(batch(name))
    check_mime((tmp_path / "send-1" / "1.eml").read_bytes(), name)


@pytest.mark.parametrize("name", NAMES)
def test_no_name_adds_a_recipient_to_an_smtp_message(catcher, name: str) -> None:
    handler, port = catcher
    SmtpBackend(f"smtp://127.0.0.1:{port}", timeout=10).send_batch(batch(name))
    [(recipients, raw)] = handler.messages
    assert recipients == [ADDRESS]
    check_mime(raw, name)


@pytest.mark.parametrize("name", NAMES)
def test_no_name_adds_a_recipient_at_sendgrid(name: str) -> None:
    with FakeSendGrid() as fake:
        SendGridBackend(api_key=API_KEY, host=fake.url, timeout=10).send_batch(batch(name))
        [sent] = fake.accepted
    # SendGrid puts the JSON name in front of the address as it is (sendgrid-python #291).
    check_one_recipient(f"{sent['name']} <{sent['email']}>", name)
