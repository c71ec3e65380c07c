"""Issue 12's "done when": a send that finishes right with nobody at a shell.

6,000 recipients; the SendGrid stand-in answers 20% of requests 429 and 10% 500 and
posts signed events for what it accepts to the real web app's webhook; a real Celery
worker is SIGKILLed in the middle of a request (one SendGrid refuses, so no event will
ever name it) and a fresh worker is started, as a supervisor restarts a container.
Nobody types a command: the orphan's heartbeat stops, the batch is in doubt, later
requests' events arrive and none for it, and it is resent. Every recipient is mailed
exactly once. (With BRIEFMAIL_ALERT_TO set, the alarm mail about a batch in doubt would
give the evidence if no later request did.)
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from briefmail import clock
from briefmail.config import get_settings
from briefmail.db.models import Batch, Delivery, Send
from briefmail.db.session import session_scope
from briefmail.sending import service
from tests.fakes.sendgrid_server import FakeSendGrid, Webhook
from tests.sending.helpers import add_people, store_brief
from tests.web.server import LiveServer
from tests.worker.conftest import Worker, wait_until, worker_env

AUDIENCE = 6000
ALERTS = "ops@example.org"


@pytest.fixture
def keys() -> tuple[ec.EllipticCurvePrivateKey, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(der).decode()


@pytest.fixture
def webhook_server(
    db_url: str, keys: tuple[ec.EllipticCurvePrivateKey, str]
) -> Iterator[LiveServer]:
    settings = get_settings().model_copy(update={"sendgrid_webhook_public_key": keys[1]})
    server = LiveServer(settings).start()
    yield server
    server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_worker_killed_mid_request_under_429s_and_500s_needs_nobody(
    db_url: str,
    broker_url: str,
    workers: list[Worker],
    webhook_server: LiveServer,
    keys: tuple[ec.EllipticCurvePrivateKey, str],
    tmp_path: Path,
) -> None:
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, AUDIENCE, topics=["learning-design"])
    hook = Webhook(f"{webhook_server.url}/webhooks/sendgrid", keys[0])
    with FakeSendGrid(webhook=hook, failure_rates={429: 0.2, 500: 0.1}, keep="ids") as fake:
        env = worker_env(
            db_url,
            broker_url,
            fake,
            BRIEFMAIL_BATCH_SIZE="500",
            BRIEFMAIL_SENDGRID_WEBHOOK_PUBLIC_KEY=keys[1],
            BRIEFMAIL_HTTP_TIMEOUT_SECONDS="5",
            BRIEFMAIL_SEND_RESEND_GRACE_SECONDS="5",
            BRIEFMAIL_SEND_MAX_ATTEMPTS="40",  # 30% refused: some batches need many tries
            BRIEFMAIL_ALERT_TO=ALERTS,
        )
        fake.plan(202, times=2)
        fake.plan(500, delay=60)  # the third request: SendGrid refuses it, slowly
        workers.append(Worker(env, tmp_path / "worker1.log"))
        workers[0].wait_ready()
        started = time.monotonic()
        clock.set_now(None)
        with session_scope() as session:  # due now: beat's next tick finds it
            send_id = service.create_send(session, slug, at=clock.now(), now=clock.now()).id
        assert fake.wait_for_requests(3, timeout=120), workers[0].log.read_text()[-3000:]
        workers[0].kill()  # mid-request: nothing of its answer will be recorded

        with session_scope() as session:
            killed = session.scalars(select(Batch.id).where(Batch.status == "sending")).all()
        assert killed, "the kill caught a batch in flight"
        workers.append(Worker(env, tmp_path / "worker2.log"))  # the supervisor restarts it
        workers[1].wait_ready()

        def done() -> bool:
            with session_scope() as session:
                return session.get_one(Send, send_id).status == "sent"

        wait_until(done, timeout=600, interval=1, what="the send to finish by itself")
        elapsed = time.monotonic() - started
        accepted = fake.accepted

    counts = Counter(p["email"] for p in accepted if p["email"] != ALERTS)
    with session_scope() as session:
        audience = set(session.scalars(select(Delivery.email).where(Delivery.send_id == send_id)))
        view = service.get_send(session, send_id)
        orphans = session.scalars(select(Batch).where(Batch.id.in_(killed))).all()
    assert len(audience) == AUDIENCE
    assert set(counts) == audience  # nobody dropped
    assert set(counts.values()) == {1}  # nobody twice
    assert (view.status, view.accepted, view.failed) == ("sent", AUDIENCE, 0)
    # The request in flight at the kill was refused, so no event named it: its batch
    # was resent by itself (any other batch caught in flight was settled by its events).
    assert {b.status for b in orphans} == {"accepted"}
    assert any(b.attempts >= 2 and b.earlier_attempt_keys for b in orphans)
    statuses = Counter(r["status"] for r in fake.requests)
    assert statuses[429] > 0
    assert statuses[500] > 0
    print(f"\n6,000 recipients, one SIGKILL, 20% 429 + 10% 500: sent in {elapsed:.1f} s")
