"""A proof (`send --test-to`) goes to the given addresses only, each mailbox once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from briefmail import clock
from briefmail.db.models import Delivery, Send
from briefmail.db.session import session_scope
from briefmail.sending import service
from briefmail.sending.backends.outbox import OutboxBackend
from briefmail.sending.backends.sendgrid import SendGridBackend
from tests.fakes.sendgrid_server import API_KEY, FakeSendGrid
from tests.sending.helpers import T0, add_people, make_engine, store_brief


def test_a_proof_goes_to_the_given_addresses_only(db_url: str, tmp_path: Path) -> None:
    clock.set_now(T0)
    with session_scope() as session:
        slug = store_brief(session, approve=False)  # drafts may be proofed
        add_people(session, 3, topics=["learning-design"])
        send_id = service.create_test_send(
            session, slug, ["a@x.org", "B@Y.org", "a@x.org"], now=T0
        ).id
    view = service.drain_send(make_engine(OutboxBackend(tmp_path / "o")), send_id)
    assert (view.kind, view.recipients, view.accepted) == ("test", 2, 2)
    with session_scope() as session:
        send = session.get_one(Send, send_id)
        rows = session.execute(
            select(Delivery.email, Delivery.subscriber_id).where(Delivery.send_id == send_id)
        ).all()
    assert (send.subject or "").startswith("[TEST] ")
    assert sorted(rows) == [("B@y.org", None), ("a@x.org", None)]


def test_a_proof_names_each_mailbox_once_whatever_its_case(db_url: str, tmp_path: Path) -> None:
    # SendGrid refuses a request naming one address twice (case-insensitively): the
    # whole proof would fail with a 400.
    clock.set_now(T0)
    with session_scope() as session:
        slug = store_brief(session, approve=False)
        send_id = service.create_test_send(
            session, slug, ["Ann@x.org", "ann@X.org", "bob@y.org"], now=T0
        ).id
    clock.set_now(None)
    with FakeSendGrid() as fake:
        engine = make_engine(SendGridBackend(api_key=API_KEY, host=fake.url, timeout=30))
        view = service.drain_send(engine, send_id)
    assert (view.status, view.recipients, view.accepted) == ("sent", 2, 2)
    assert sorted(p["email"] for p in fake.accepted) == ["Ann@x.org", "bob@y.org"]
