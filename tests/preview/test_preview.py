"""`briefmail preview`: the files a sample subscriber would get, and the summary."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from briefmail.briefs.parse import load_brief, parse_brief
from briefmail.preview.build import SAMPLE_SECRET, SAMPLE_SUBSCRIBER_ID
from briefmail.preview.warnings import GMAIL_CLIP_BYTES, find_warnings
from briefmail.render.email import render_email
from briefmail.tracking.tokens import Purpose, verify
from tests.briefs.variants import edited, example_text, write
from tests.cli import run_cli
from tests.conftest import EXAMPLE_BRIEF, TEST_SECRET_KEY
from tests.render.html_doc import parse_html, squash

KEYS = [TEST_SECRET_KEY.encode()]  # BRIEFMAIL_SECRET_KEY in tests/conftest.py
PUBLIC = "https://brief.example.org"  # BRIEFMAIL_PUBLIC_URL in tests/conftest.py


def preview_out(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    brief: Path = EXAMPLE_BRIEF,
) -> Path:
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(["preview", str(brief), "--out", str(out)], monkeypatch, capsys)
    assert (code, stderr) == (0, "")
    assert f"wrote {out / 'email.eml'}" in stdout
    return out


def token_of(url: str, kind: str) -> str:
    prefix = f"{PUBLIC}/{kind}/"
    assert url.startswith(prefix), url
    return url.removeprefix(prefix)


def test_out_writes_html_text_and_eml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = preview_out(tmp_path, monkeypatch, capsys)
    assert sorted(p.name for p in out.iterdir()) == ["email.eml", "email.html", "email.txt"]
    html = (out / "email.html").read_text(encoding="utf-8")
    text = (out / "email.txt").read_text(encoding="utf-8")
    assert "%%bm:" not in html
    assert "%%bm:" not in text

    message = message_from_bytes((out / "email.eml").read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message.get_content_type() == "multipart/alternative"
    text_part, html_part = message.iter_parts()
    assert text_part.get_content() == text
    assert html_part.get_content().rstrip("\n") == html.rstrip("\n")
    assert message["Subject"] == "Clinician-Educators Want Coaching Programs, Not More Lectures"
    assert message["From"] == "Clinician Learning Brief <brief@example.org>"
    assert message["To"] == "Sample Reader <reader@example.org>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe, mailto = (part.strip(" <>") for part in message["List-Unsubscribe"].split(","))
    assert mailto == "mailto:unsubscribe@example.org?subject=unsubscribe"

    # The unsubscribe and preference links are real signed links for the sample subscriber.
    ints = verify(
        KEYS, token_of(unsubscribe, "u"), Purpose.UNSUBSCRIBE, arity=2, extra=SAMPLE_SECRET.encode()
    )
    assert ints == (SAMPLE_SUBSCRIBER_ID, 0)
    doc = parse_html(html)
    anchors = {squash(a.text): a.attrs["href"] for a in doc.iter("a") if a.text.strip()}
    assert anchors["Unsubscribe"] == unsubscribe
    preferences = token_of(anchors["Manage preferences"], "preferences")
    assert verify(KEYS, preferences, Purpose.PREFERENCES, arity=2, extra=SAMPLE_SECRET.encode())
    assert f"Unsubscribe: {unsubscribe}" in text
    assert "because you follow Learning design, Workflow-based education and Accreditation" in (
        squash(html)
    )


def test_preview_links_go_straight_to_their_destinations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "https://www.chatcme.example.com/demo?utm_source=brief&utm_medium=email"
    brief = write(tmp_path, edited("url: https://www.chatcme.example.com/demo", f"url: {url}"))
    out = preview_out(tmp_path, monkeypatch, capsys, brief)
    raw = (out / "email.html").read_text(encoding="utf-8")
    doc = parse_html(raw)
    hrefs = [a.attrs["href"] for a in doc.iter("a")]
    parsed = load_brief(brief)
    for source in parsed.sources:
        assert hrefs.count(source.url) == 2  # the citation and the card's button
    assert hrefs.count(url) == 2  # the call to action and the hidden honeypot
    assert "utm_source=brief&amp;utm_medium=email" in raw  # escaped in the HTML part
    text = (out / "email.txt").read_text(encoding="utf-8")
    assert f"Request a demo: {url}" in text.split("\n")
    for source in parsed.sources:
        assert f"    Open source: {source.url}" in text.split("\n")


def test_from_address_and_public_url_come_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from briefmail.config import get_settings

    monkeypatch.setenv("BRIEFMAIL_FROM", "Editors <editors@example.net>")
    monkeypatch.setenv("BRIEFMAIL_PUBLIC_URL", "https://news.example.net/")
    monkeypatch.setenv("BRIEFMAIL_POSTAL_ADDRESS", "PO Box 7, Springfield")
    get_settings.cache_clear()
    out = preview_out(tmp_path, monkeypatch, capsys)
    message = message_from_bytes((out / "email.eml").read_bytes(), policy=policy.default)
    assert message["From"] == "Editors <editors@example.net>"
    assert message["List-Unsubscribe"].startswith("<https://news.example.net/u/")
    assert "PO Box 7, Springfield" in (out / "email.txt").read_text(encoding="utf-8")


def test_summary_without_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = set(tmp_path.iterdir())
    code, stdout, stderr = run_cli(["preview", str(EXAMPLE_BRIEF)], monkeypatch, capsys)
    assert (code, stderr) == (0, "")
    flat = squash(stdout)
    assert "Subject Clinician-Educators Want Coaching Programs, Not More Lectures" in flat
    assert "Preheader Clinician-educator support is moving" in flat
    assert "% of Gmail's 102 KB clip" in flat
    assert "Links 5" in flat
    assert "1 warning(s)" in flat
    assert "long-subject: subject is 61 characters" in flat
    assert {p.name for p in set(tmp_path.iterdir()) - before} <= {"briefmail.secret"}


def test_out_must_be_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "file"
    target.write_text("keep me")
    code, _, stderr = run_cli(
        ["preview", str(EXAMPLE_BRIEF), "--out", str(target)], monkeypatch, capsys
    )
    assert code == 2
    assert "--out must be a folder" in stderr
    assert target.read_text() == "keep me"


# -- Warnings ----------------------------------------------------------------------------


def warnings_for(text: str) -> dict[str, str]:
    brief = parse_brief(text, "b.md")
    rendered = render_email(brief, postal_address="Address", public_url="https://brief.example.org")
    return {w.code: w.message for w in find_warnings(brief, rendered, rendered.html)}


def test_seed_brief_warns_only_about_its_subject() -> None:
    assert list(warnings_for(example_text())) == ["long-subject"]


def test_short_subject_has_no_warning() -> None:
    text = edited(
        "title: Clinician-Educators Want Coaching Programs, Not More Lectures",
        "title: Coaching programs, not more lectures",
    )
    assert warnings_for(text) == {}


def test_image_without_alt_text() -> None:
    text = edited(
        "## What changed this week\n",
        "![](https://example.org/chart.png)\n\n## What changed this week\n",
    )
    assert "https://example.org/chart.png" in warnings_for(text)["missing-alt"]
    with_alt = edited(
        "## What changed this week\n",
        "![Chart of demand](https://example.org/chart.png)\n\n## What changed this week\n",
    )
    assert "missing-alt" not in warnings_for(with_alt)


def test_duplicate_links() -> None:
    same = "https://www.facultyfeed.example.org/episodes/dean-bumpous-interviews-us"
    text = edited("url: https://www.chatcme.example.com/demo", f"url: {same}")
    message = warnings_for(text)["duplicate-link"]
    assert message.startswith(f"{same} is linked from 2 places: source 1, cta 'Request a demo'")
    # Citing a source again is not a duplicate: it is the same source.
    again = edited("(source:2)", "(source:1)")
    assert "duplicate-link" not in warnings_for(again)


def test_long_section() -> None:
    words = " ".join(["word"] * 450)
    text = edited(
        "## What changed this week\n", f"## A long one\n\n{words}\n\n## What changed this week\n"
    )
    message = warnings_for(text)["long-section"]
    assert message.startswith("section 'A long one' (line ")
    assert "has 450 words" in message


def test_gmail_clip() -> None:
    brief = load_brief(EXAMPLE_BRIEF)
    rendered = render_email(brief, postal_address="Address", public_url="https://brief.example.org")
    big = rendered.html + " " * GMAIL_CLIP_BYTES
    codes = [w.code for w in find_warnings(brief, rendered, big)]
    assert "gmail-clip" in codes
