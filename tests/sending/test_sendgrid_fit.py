"""Too many tracked links for one SendGrid personalization: refused before a send exists.

Every link is a per-recipient substitution; SendGrid (here its stand-in, the only fake)
allows 100 substitutions and 10,000 bytes of substitutions and custom_args per
personalization. A brief just under a limit must go through; one link over must be
refused with one clear line, before any send, batch or delivery row is written.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.audience.subscribers import new_secret
from briefmail.briefs.parse import parse_brief
from briefmail.briefs.store import approve_brief, import_brief
from briefmail.config import get_settings
from briefmail.db.models import Batch, Brief, Delivery, Send, SendLink, Subscriber
from briefmail.db.session import session_scope
from briefmail.render.email import render_email
from briefmail.sending import sendgrid_limits, service
from briefmail.sending.backends.sendgrid import (
    MAX_PERSONALIZATION_BYTES,
    MAX_SUBSTITUTIONS,
    PersonalizationSize,
    SendGridBackend,
)
from tests.briefs.variants import edited, example_text, with_sources, write
from tests.cli import run_cli
from tests.fakes.sendgrid_server import API_KEY, FakeSendGrid
from tests.sending.helpers import T0, TOPICS, add_people, make_engine

# Honeypot + 47 citations + 47 source cards + call to action, plus the unsubscribe,
# preferences and two reason-line values: exactly SendGrid's 100 substitutions.
SOURCES_AT_LIMIT = 47
# Long enough that the 10,000 bytes bind before the 100 substitutions.
LONG_PUBLIC_URL = "https://brief.example.org/" + "n" * 75


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSendGrid]:
    """The stand-in, configured as the backend of `briefmail send`."""
    with FakeSendGrid() as server:
        monkeypatch.setenv("BRIEFMAIL_EMAIL_BACKEND", "sendgrid")
        monkeypatch.setenv("BRIEFMAIL_SENDGRID_API_KEY", API_KEY)
        monkeypatch.setenv("BRIEFMAIL_SENDGRID_HOST", server.url)
        get_settings.cache_clear()
        yield server


def probe(text: str) -> sendgrid_limits.RecipientFit:
    """What the check measures for a brief, with the test settings' key and URL."""
    settings = get_settings()
    brief = parse_brief(text, "b.md")
    return sendgrid_limits.measure(
        render_email(brief, postal_address=settings.postal_address, public_url=settings.public_url),
        [topic.name for topic in brief.topics],
        keys=settings.signing_keys(),
        public_url=settings.public_url,
    )


def stored(tmp_path: Path, text: str, readers: int = 3) -> str:
    """Import and approve the brief; add readers (once) who follow one of its topics."""
    with session_scope() as session:
        row = import_brief(session, write(tmp_path, text, "many.md"))
        approve_brief(session, row.slug, "editor@example.org")
        if readers:
            add_people(session, readers, topics=["learning-design"])
        return row.slug


def counts() -> dict[str, int]:
    with session_scope() as session:
        return {
            model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Send, SendLink, Batch, Delivery)
        }


EXAMPLE_TOPICS = "  - Learning design\n  - Workflow-based education\n  - Accreditation operations\n"


@pytest.mark.parametrize(
    ("text", "topics"),
    [
        (example_text(), TOPICS),
        # One short topic: a reader who follows everything has the longer reason line.
        (edited(EXAMPLE_TOPICS, "  - Pain\n"), ("pain",)),
    ],
    ids=["three-topics", "one-short-topic"],
)
def test_the_probe_is_never_smaller_than_what_sendgrid_receives(
    text: str,
    topics: tuple[str, ...],
    tmp_path: Path,
    fake: FakeSendGrid,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The check measures the personalization the send writes, at its largest."""
    slug = stored(tmp_path, text, readers=0)
    with session_scope() as session:
        large_ids(session, slug)
        add_people(session, 2, prefix="all")  # no topics: the "all topics" reason line
        add_people(session, 2, prefix="every", topics=topics)
        add_people(session, 2, prefix="one", topics=topics[:1])
    code, _, err = run_cli(["send", slug, "--now"], monkeypatch, capsys)
    assert (code, err) == (0, "")
    measured = probe(text)
    assert measured.fits
    assert len(fake.accepted) == 6
    assert {len(v) for e in fake.accepted for v in e["custom_args"].values()} == {10, 32}
    margins = []
    for entry in fake.accepted:
        real = PersonalizationSize.of(entry)
        assert real.substitutions == measured.size.substitutions
        margins.append(measured.size.bytes - real.bytes)
    assert min(margins) == 0  # the largest copy is exactly the probe's size


def large_ids(session: Session, slug: str) -> None:
    """Rows near 2**31 so the next send, batch, subscriber and delivery ids are as long
    as the probe's: a token's varints and the custom_args then cost what they cost it."""
    start = 2**31 - 100
    brief_id = session.scalars(select(Brief.id).where(Brief.slug == slug)).one()
    rows = [
        Send(id=start, brief_id=brief_id, kind="test", status="cancelled", scheduled_for=T0),
        Batch(id=start, send_id=start, seq=1, status="cancelled", due_at=T0),
        Subscriber(
            id=start,
            email="old@example.org",
            email_key="old@example.org",
            status="unsubscribed",
            secret=new_secret(),
            created_at=T0,
            updated_at=T0,
        ),
        Delivery(
            id=start,
            send_id=start,
            brief_id=brief_id,
            batch_id=start,
            email="old@example.org",
            due_at=T0,
            status="cancelled",
        ),
    ]
    for row in rows:  # one at a time: these models have no relationships to order them
        session.add(row)
        session.flush()


def test_a_brief_at_the_substitution_limit_goes_through(
    tmp_path: Path,
    fake: FakeSendGrid,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = with_sources(SOURCES_AT_LIMIT)
    assert probe(text).size.substitutions == MAX_SUBSTITUTIONS  # just under: at the limit
    slug = stored(tmp_path, text)
    code, out, err = run_cli(["send", slug, "--now"], monkeypatch, capsys)
    assert (code, err) == (0, "")
    assert "sent; 3 recipients, 3 accepted, 0 failed" in out
    assert [r["status"] for r in fake.requests] == [202]
    assert [len(e["substitutions"]) for e in fake.accepted] == [MAX_SUBSTITUTIONS] * 3


def test_one_source_more_is_refused_before_the_send_exists(
    tmp_path: Path,
    fake: FakeSendGrid,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    slug = stored(tmp_path, with_sources(SOURCES_AT_LIMIT + 1))
    for args in (["--now"], ["--at", "2099-01-05T09:00Z"], ["--test-to", "editor@example.org"]):
        code, out, err = run_cli(["send", slug, *args], monkeypatch, capsys)
        assert code == 2, args
        assert out == ""
        assert err.count("\n") == 1  # one line, no traceback
        assert err.startswith(f"briefmail: error: brief {slug!r} cannot be sent through SendGrid")
        assert err.rstrip().endswith(
            "needs 102 substitutions (SendGrid allows 100) for its 97 links; remove at least "
            "2 links (sources, citations or links in the text) or split the brief"
        )
    assert counts() == {"Send": 0, "SendLink": 0, "Batch": 0, "Delivery": 0}
    assert fake.requests == []


def test_the_other_backends_are_not_limited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The outbox (the default) fills values locally: any number of links goes out."""
    slug = stored(tmp_path, with_sources(SOURCES_AT_LIMIT + 1))
    code, out, err = run_cli(["send", slug, "--now"], monkeypatch, capsys)
    assert (code, err) == (0, "")
    assert "sent; 3 recipients, 3 accepted" in out


def test_a_send_made_without_the_check_fails_at_its_start_with_nothing_written(
    tmp_path: Path, fake: FakeSendGrid
) -> None:
    """The weekly slot, or a send scheduled while another backend was set, reach the
    engine unchecked: it refuses them before writing links, batches or deliveries."""
    slug = stored(tmp_path, with_sources(SOURCES_AT_LIMIT + 1))
    with session_scope() as session:
        send_id = service.create_send(session, slug, at=clock.now(), now=clock.now()).id
    engine = make_engine(SendGridBackend(api_key=API_KEY, host=fake.url, timeout=5))
    view = service.drain_send(engine, send_id)
    assert view.status == "failed"
    assert len(view.errors) == 1
    assert view.errors[0].startswith(f"could not start: brief {slug!r} cannot be sent")
    assert "102 substitutions (SendGrid allows 100)" in view.errors[0]
    assert counts() == {"Send": 1, "SendLink": 0, "Batch": 0, "Delivery": 0}
    assert fake.requests == []


def test_with_a_long_public_url_the_byte_limit_binds(
    tmp_path: Path,
    fake: FakeSendGrid,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BRIEFMAIL_PUBLIC_URL", LONG_PUBLIC_URL)
    get_settings.cache_clear()
    sizes = range(1, SOURCES_AT_LIMIT + 1)
    # The most sources that fit: bytes, not the count, decide here.
    most = bisect.bisect_left(sizes, True, key=lambda n: not probe(with_sources(n)).fits)
    assert 10 < most < SOURCES_AT_LIMIT
    over = probe(with_sources(most + 1))
    assert over.size.substitutions <= MAX_SUBSTITUTIONS
    assert over.size.bytes > MAX_PERSONALIZATION_BYTES

    slug = stored(tmp_path, with_sources(most + 1))
    code, _, err = run_cli(["send", slug, "--now"], monkeypatch, capsys)
    assert code == 2
    assert f"{over.size.bytes:,} bytes of substitutions and custom_args" in err
    assert "(SendGrid allows 10,000)" in err
    assert "substitutions (SendGrid allows 100)" not in err
    assert fake.requests == []

    stored(tmp_path, with_sources(most), readers=0)  # the same slug, edited: approve again
    code, out, err = run_cli(["send", slug, "--now"], monkeypatch, capsys)
    assert (code, err) == (0, "")
    assert "3 accepted, 0 failed" in out
    under = probe(with_sources(most))
    for entry in fake.accepted:
        real = PersonalizationSize.of(entry)
        assert real.bytes <= under.size.bytes <= MAX_PERSONALIZATION_BYTES
        # The probe's margin: its ids as large as 2**31 (about ten bytes per link), its
        # reason line naming every topic, not just this reader's (112 bytes here).
        assert under.size.bytes - real.bytes <= 12 * under.links + 200
