"""The SMTP and outbox backends: personalised messages, one connection per batch."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from briefmail import clock
from briefmail.db.models import Delivery
from briefmail.db.session import session_scope
from briefmail.sending import service
from briefmail.sending.backends.base import OrphanOutcome
from briefmail.sending.backends.outbox import OutboxBackend
from briefmail.sending.backends.smtp import SmtpBackend
from briefmail.sending.retry import RetryPolicy
from tests.sending.helpers import add_people, add_person, make_engine, store_brief


class Catcher:
    """A real SMTP server (aiosmtpd) that keeps what it receives; refuses `refuse`."""

    def __init__(self, refuse: set[str]) -> None:
        self.refuse = refuse
        self.messages: list[tuple[list[str], bytes]] = []
        self.connections = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def catcher() -> Iterator[tuple[Catcher, int]]:
    handler = Catcher({"refused@example.org"})
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def test_smtp_sends_each_reader_their_own_message_over_one_connection(
    db_url: str, catcher: tuple[Catcher, int]
) -> None:
    handler, port = catcher
    clock.set_now(None)
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, 4, topics=["learning-design"])
        add_person(session, "refused@example.org", topics=["learning-design"])
        send_id = service.create_send(session, slug, at=clock.now(), now=clock.now()).id
    engine = make_engine(SmtpBackend(f"smtp://127.0.0.1:{port}", timeout=10))
    view = service.drain_send(engine, send_id)
    assert (view.recipients, view.accepted, view.failed) == (5, 4, 1)
    assert view.status == "sent"  # one refused recipient fails alone; the batch went out
    assert handler.connections == 1
    assert sorted(r[0] for r, _ in handler.messages) == [f"reader{i}@example.org" for i in range(4)]
    unsubscribes = set()
    for rcpt, raw in handler.messages:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert message["To"].addresses[0].addr_spec == rcpt[0]
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        html = message.get_body(("html",)).get_content()
        assert "%%bm:" not in html
        assert "Learning design" in html
        unsubscribes.add(message["List-Unsubscribe"])
    assert len(unsubscribes) == 4
    with session_scope() as session:
        failed = session.scalars(select(Delivery.error).where(Delivery.status == "failed")).one()
    assert "refused@example.org" in (failed or "")


def test_smtp_server_down_is_retried_not_lost(db_url: str) -> None:
    clock.set_now(None)
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, 2, topics=["learning-design"])
        send_id = service.create_send(session, slug, at=clock.now(), now=clock.now()).id
    engine = make_engine(
        SmtpBackend(f"smtp://127.0.0.1:{_free_port()}", timeout=2),
        retry=RetryPolicy(max_attempts=3, base_seconds=60),
    )
    report = engine.work()
    assert list(report.batches.values()) == ["pending"]
    with session_scope() as session:
        assert service.get_send(session, send_id).queued == 2


def test_outbox_files_are_named_by_delivery_so_a_retry_overwrites(
    db_url: str, tmp_path: Path
) -> None:
    clock.set_now(None)
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, 3, topics=["learning-design"])
        send_id = service.create_send(session, slug, at=clock.now(), now=clock.now()).id
    outbox = OutboxBackend(tmp_path / "outbox")
    view = service.drain_send(make_engine(outbox), send_id)
    assert view.accepted == 3
    with session_scope() as session:
        ids = list(session.scalars(select(Delivery.id).where(Delivery.send_id == send_id)))
    assert outbox.orphan_outcome(send_id, ids) is OrphanOutcome.SENT
    (tmp_path / "outbox" / f"send-{send_id}" / f"{ids[0]}.eml").unlink()
    assert outbox.orphan_outcome(send_id, ids) is OrphanOutcome.NOT_SENT
    assert not list((tmp_path / "outbox").rglob("*.tmp"))
