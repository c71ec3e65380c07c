"""The MIME message every non-SendGrid path sends (and the preview writes)."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from briefmail import clock
from briefmail.render.message import build_message, list_unsubscribe_headers

HTML = "<p>Caf\u00e9 \u2014 <a href='https://example.org/?a=1&b=2'>x</a></p>" + "y" * 200
TEXT = "Caf\u00e9 \u2014 plain text\n" + "z" * 120 + "\n"


def build(**overrides: str) -> EmailMessage:
    arguments = {
        "subject": "Clinician-Educators \u2014 coaching",
        "from_address": "Clinician Learning Brief <brief@example.org>",
        "to": "ana@example.com",
        "to_name": "Ana P\u00e9rez",
        "html": HTML,
        "text": TEXT,
        "unsubscribe_url": "https://brief.example.org/u/TOKEN",
        "unsubscribe_mailto": "unsubscribe@example.org",
    } | overrides
    return build_message(**arguments)  # type: ignore[arg-type]


def test_list_unsubscribe_headers() -> None:
    assert list_unsubscribe_headers("https://b.example.org/u/T", "unsubscribe@example.org") == {
        "List-Unsubscribe": (
            "<https://b.example.org/u/T>, <mailto:unsubscribe@example.org?subject=unsubscribe>"
        ),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert list_unsubscribe_headers("https://b/u/T", "mailto:x@example.org")[
        "List-Unsubscribe"
    ].endswith("<mailto:x@example.org?subject=unsubscribe>")
    assert list_unsubscribe_headers("https://b/u/T")["List-Unsubscribe"] == "<https://b/u/T>"


def test_message_round_trips_as_multipart_alternative() -> None:
    clock.set_now(datetime(2024, 1, 15, 14, 0, tzinfo=UTC))
    parsed = message_from_bytes(
        build(reply_to="editor@example.org").as_bytes(), policy=policy.default
    )
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content() == TEXT
    assert parts[1].get_content().rstrip("\n") == HTML
    assert all(part["Content-Transfer-Encoding"] == "quoted-printable" for part in parts)
    assert parsed["Subject"] == "Clinician-Educators \u2014 coaching"
    assert parsed["From"] == "Clinician Learning Brief <brief@example.org>"
    assert parsed["To"] == "Ana P\u00e9rez <ana@example.com>"
    assert parsed["Reply-To"] == "editor@example.org"
    assert parsed["Date"] == "Mon, 15 Jan 2024 14:00:00 +0000"
    assert parsed["Message-ID"].endswith("@example.org>")
    assert parsed["List-Unsubscribe"] == (
        "<https://brief.example.org/u/TOKEN>, <mailto:unsubscribe@example.org?subject=unsubscribe>"
    )
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_extra_headers_and_fixed_ids() -> None:
    message = build_message(
        subject="s",
        from_address="brief@example.org",
        to="a@example.com",
        html="<p>h</p>",
        text="t",
        unsubscribe_url="https://b/u/T",
        message_id="<fixed@example.org>",
        headers={"X-Briefmail-Send": "12"},
    )
    assert message["Message-ID"] == "<fixed@example.org>"
    assert message["X-Briefmail-Send"] == "12"
    assert "Reply-To" not in message
    assert message["List-Unsubscribe"] == "<https://b/u/T>"
