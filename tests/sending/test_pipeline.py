"""A send from the stored brief to the outbox, in-process, on both databases."""

from __future__ import annotations

import email
import email.policy
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy import func, select

from briefmail import clock
from briefmail.db.models import Batch, Delivery, Send, SendLink
from briefmail.db.session import session_scope
from briefmail.errors import StateError
from briefmail.sending import service
from briefmail.sending.backends.outbox import OutboxBackend
from tests.sending.helpers import T0, add_people, add_person, make_engine, store_brief


def _read(path: Path) -> Message:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def test_send_reaches_each_reader_once_with_their_own_links(db_url: str, tmp_path: Path) -> None:
    clock.set_now(T0)
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, 5, topics=["learning-design"])
        add_people(session, 3, prefix="other", topics=["clinical-ai"])  # not in the segment
        add_people(session, 2, prefix="all")  # all topics
        send = service.create_send(session, slug, at=T0, now=T0)
        send_id = send.id
    outbox = OutboxBackend(tmp_path / "outbox")
    engine = make_engine(outbox, batch_size=3)
    view = service.drain_send(engine, send_id)
    assert view.status == "sent"
    assert (view.recipients, view.accepted, view.failed) == (7, 7, 0)
    files = sorted((tmp_path / "outbox" / f"send-{send_id}").glob("*.eml"))
    assert len(files) == 7
    messages = [_read(f) for f in files]
    recipients = sorted(m["To"] for m in messages)
    assert all("other" not in r for r in recipients)
    unsub = {m["List-Unsubscribe"] for m in messages}
    assert len(unsub) == 7  # everyone has their own token
    for m in messages:
        assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        body = m.get_body(("html",)).get_content()
        assert "%%bm:" not in body
        assert "https://brief.example.org/c/" in body
    with session_scope() as session:
        assert (
            session.scalar(select(func.count()).select_from(Batch).where(Batch.send_id == send_id))
            == 3
        )
        assert (
            session.scalar(
                select(func.count()).select_from(SendLink).where(SendLink.send_id == send_id)
            )
            > 3
        )
        stored = session.get_one(Send, send_id)
        assert stored.html_template
        assert "%%bm:unsubscribe_url%%" in stored.html_template


def test_a_draft_is_refused(db_url: str) -> None:
    with session_scope() as session:
        slug = store_brief(session, approve=False)
        with pytest.raises(StateError, match="draft"):
            service.create_send(session, slug, at=T0, now=T0)


def test_sending_again_never_mails_anyone_twice(db_url: str, tmp_path: Path) -> None:
    clock.set_now(T0)
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, 4, topics=["learning-design"])
        first = service.create_send(session, slug, at=T0, now=T0).id
    engine = make_engine(OutboxBackend(tmp_path / "outbox"))
    assert service.drain_send(engine, first).accepted == 4
    with session_scope() as session:
        add_person(session, "late@example.org", topics=["learning-design"])
        second = service.create_send(session, slug, at=T0, now=T0).id
    view = service.drain_send(engine, second)
    assert (view.status, view.recipients, view.accepted) == ("sent", 1, 1)
    with session_scope() as session:
        emails = session.scalars(select(Delivery.email).where(Delivery.send_id == second)).all()
    assert emails == ["late@example.org"]


def test_topics_narrow_the_segment_but_keep_all_topics_readers(db_url: str, tmp_path: Path) -> None:
    clock.set_now(T0)
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, 2, prefix="design", topics=["learning-design"])
        add_people(session, 2, prefix="accred", topics=["accreditation-operations"])
        add_people(session, 1, prefix="all")
        send_id = service.create_send(session, slug, at=T0, now=T0, topics=["Learning design"]).id
    view = service.drain_send(make_engine(OutboxBackend(tmp_path / "o")), send_id)
    with session_scope() as session:
        emails = sorted(session.scalars(select(Delivery.email).where(Delivery.send_id == send_id)))
    assert emails == ["all0@example.org", "design0@example.org", "design1@example.org"]
    assert view.accepted == 3
