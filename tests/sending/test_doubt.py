"""Every crash window of one batch, with and without provider events.

A worker is killed (here: a BaseException nothing in the engine catches, which leaves
the database exactly as SIGKILL would) before its request, during it while SendGrid
answers 202, 429 or 500, or after the 202 came back but before it was recorded. A
second engine carries on with the other batches; its tick settles the orphan once the
first one's heartbeat has been silent for the lease.

With the event webhook configured and events flowing, everything settles by itself:
an accepted request by its events, one that was not accepted by being resent once the
grace has passed and later requests' events have arrived. Without events, the batch
waits for an operator and `sends show` says exactly why. Nobody is ever mailed twice.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from briefmail import clock
from briefmail.db.models import Batch, Delivery
from briefmail.db.session import session_scope
from briefmail.sending import service
from briefmail.sending.backends.base import (
    BatchResult,
    EmailBackend,
    OutgoingBatch,
    ProviderError,
)
from briefmail.sending.backends.sendgrid import SendGridBackend
from briefmail.sending.doubt import DoubtPolicy
from briefmail.sending.engine import Engine
from briefmail.tracking.events import apply_events
from briefmail.tracking.sendgrid_events import parse_sendgrid
from tests.cli import run_cli
from tests.fakes.sendgrid_server import API_KEY, FakeSendGrid
from tests.sending.helpers import T0, add_people, make_engine, store_brief

AUDIENCE, BATCH = 15, 5
LEASE, GRACE, REQUEST = 60, 120, 5
NO_WEBHOOK = "no SendGrid event webhook is configured (BRIEFMAIL_SENDGRID_WEBHOOK_PUBLIC_KEY)"
WINDOWS = ["before", "during-202", "during-429", "during-500", "after"]
ACCEPTED = {"during-202", "after"}  # SendGrid took the request


class Killed(BaseException):
    """The worker process dies here: nothing after this point runs."""


class DiesOnFirstBatch(EmailBackend):
    """SendGrid, with the worker killed at `window` of the first request."""

    name = "sendgrid"

    def __init__(self, real: SendGridBackend, window: str) -> None:
        self.real = real
        self.window = window
        self.died = False

    def send_batch(self, batch: OutgoingBatch) -> BatchResult:
        if self.died:
            return self.real.send_batch(batch)
        self.died = True
        if self.window == "before":
            raise Killed
        # The stand-in answers as planned for this window; a 429 or 500 comes back to a
        # process about to die.
        with contextlib.suppress(ProviderError):
            self.real.send_batch(batch)
        raise Killed  # during the request, or after its answer but before recording it


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server


def _engine(backend: EmailBackend, *, webhook: bool) -> Engine:
    policy = DoubtPolicy(
        grace_seconds=GRACE, request_seconds=REQUEST, no_events=None if webhook else NO_WEBHOOK
    )
    return make_engine(backend, batch_size=BATCH, lease_seconds=LEASE, doubt=policy)


def _webhook(fake: FakeSendGrid) -> None:
    """SendGrid's Event Webhook: `processed` for everything it accepted (new ones stored)."""
    body = json.dumps(fake.events()).encode()
    with session_scope() as session:
        apply_events(session, parse_sendgrid(body).events, received_at=clock.now())


def _first_batch() -> Batch:
    with session_scope() as session:
        batch = session.scalars(select(Batch).order_by(Batch.seq)).first()
        assert batch is not None
        session.expunge(batch)
        return batch


def _crash(fake: FakeSendGrid, window: str, *, webhook: bool) -> tuple[int, Engine]:
    """A send of three batches whose first batch's worker is killed at `window`; another
    engine sends the other two a little later. Returns the send and that engine."""
    clock.set_now(T0)
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, AUDIENCE, topics=["learning-design"])
        send_id = service.create_send(session, slug, at=T0, now=T0).id
    real = SendGridBackend(api_key=API_KEY, host=fake.url, timeout=5)
    if window.startswith("during-"):
        fake.plan(int(window.removeprefix("during-")))
    with pytest.raises(Killed):
        _engine(DiesOnFirstBatch(real, window), webhook=webhook).work()
    assert _first_batch().status == "sending"
    clock.set_now(T0 + timedelta(seconds=10))  # requests made after the one in doubt
    survivor = _engine(SendGridBackend(api_key=API_KEY, host=fake.url, timeout=5), webhook=webhook)
    survivor.work()
    return send_id, survivor


def _settle(survivor: Engine, fake: FakeSendGrid, *, events: bool) -> None:
    """Time passes with a tick a minute (events flowing, if any); nobody types anything."""
    for minute in range(1, 6):
        clock.set_now(T0 + timedelta(seconds=10 + 60 * minute))
        if events:
            _webhook(fake)
        survivor.tick()
        survivor.work()


@pytest.mark.parametrize("window", WINDOWS)
def test_with_events_every_window_settles_by_itself_and_mails_everyone_once(
    db_url: str, fake: FakeSendGrid, window: str
) -> None:
    send_id, survivor = _crash(fake, window, webhook=True)
    _settle(survivor, fake, events=True)

    counts = Counter(p["email"] for p in fake.accepted)
    assert len(counts) == AUDIENCE
    assert set(counts.values()) == {1}
    batch = _first_batch()
    assert batch.status == "accepted"
    if window in ACCEPTED:  # its own events settled it: never sent again
        assert batch.attempts == 1
        assert batch.earlier_attempt_keys is None
    else:  # the webhook was alive and silent about it: resent, once
        assert batch.attempts == 2
        assert batch.earlier_attempt_keys is not None
        assert len(batch.earlier_attempt_keys) == 1
    with session_scope() as session:
        view = service.get_send(session, send_id)
    assert (view.status, view.accepted, view.failed, view.errors) == ("sent", AUDIENCE, 0, [])


@pytest.mark.parametrize("window", WINDOWS)
def test_without_a_webhook_the_batch_waits_and_sends_show_says_why(
    db_url: str,
    fake: FakeSendGrid,
    window: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    send_id, survivor = _crash(fake, window, webhook=False)
    _settle(survivor, fake, events=False)

    counts = Counter(p["email"] for p in fake.accepted)
    assert set(counts.values()) == {1}  # nobody twice
    assert len(counts) == AUDIENCE if window in ACCEPTED else AUDIENCE - BATCH
    batch = _first_batch()
    assert (batch.status, batch.attempts) == ("unknown", 1)
    code, out, err = run_cli(["sends", "show", str(send_id)], monkeypatch, capsys)
    assert code == 0, err
    assert "error: batch 1 unknown: outcome unknown: its worker stopped during the request" in out
    assert f"briefmail sends resolve {batch.id} --resend" in out
    assert (
        f"Now: {BATCH} recipients not recorded as handed over; not resent by itself: "
        f"{NO_WEBHOOK}, so silence proves nothing." in out
    )
    assert "sending" in out.splitlines()[0]


def test_a_webhook_that_stays_silent_proves_nothing(db_url: str, fake: FakeSendGrid) -> None:
    send_id, survivor = _crash(fake, "during-500", webhook=True)
    _settle(survivor, fake, events=False)  # configured, but no events arrive at all

    batch = _first_batch()
    assert batch.status == "unknown"
    assert batch.doubt_note is not None
    assert "waiting for evidence: no provider events have arrived for a request made after" in (
        batch.doubt_note
    )
    assert len(fake.accepted) == AUDIENCE - BATCH
    # Then the webhook delivers what it owed: later requests' events, none for this one.
    _settle(survivor, fake, events=True)
    assert _first_batch().status == "accepted"
    assert Counter(p["email"] for p in fake.accepted).most_common(1)[0][1] == 1
    with session_scope() as session:
        assert service.get_send(session, send_id).status == "sent"


def test_the_note_names_the_time_it_will_be_resent(db_url: str, fake: FakeSendGrid) -> None:
    _, survivor = _crash(fake, "before", webhook=True)
    _webhook(fake)
    clock.set_now(T0 + timedelta(seconds=LEASE + 1))
    assert survivor.tick().settled == {_first_batch().id: "unknown"}
    note = _first_batch().doubt_note or ""
    resend_at = (T0 + timedelta(seconds=GRACE)).isoformat(timespec="seconds")
    assert note.startswith(f"{BATCH} recipients not recorded as handed over; resent by itself")
    assert f"at {resend_at} unless provider events for it arrive by then" in note


def test_a_batch_in_doubt_of_a_cancelled_send_is_cancelled_not_resent(
    db_url: str, fake: FakeSendGrid
) -> None:
    send_id, survivor = _crash(fake, "during-429", webhook=True)
    with session_scope() as session:
        service.cancel_send(session, send_id, now=clock.now())
    _settle(survivor, fake, events=True)
    batch = _first_batch()
    assert batch.status == "cancelled"
    assert "not resent: the send is cancelled" in (batch.error or "")
    with session_scope() as session:
        queued = session.scalars(
            select(Delivery.id).where(Delivery.batch_id == batch.id, Delivery.status == "queued")
        ).all()
        view = service.get_send(session, send_id)
    assert queued == []
    assert view.finished_at is not None
    assert len(fake.accepted) == AUDIENCE - BATCH
