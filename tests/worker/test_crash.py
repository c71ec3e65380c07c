"""SIGKILL a worker mid-send, restart it: every recipient exactly once, nobody skipped."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from briefmail.db.models import Batch, Delivery, Send
from briefmail.db.session import session_scope
from briefmail.sending import service
from tests.conftest import ROOT
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.sending.helpers import add_people, store_brief, store_events
from tests.worker.conftest import Worker, wait_until, worker_env

AUDIENCE = 600


def _batches(send_id: int) -> dict[int, str]:
    with session_scope() as session:
        return dict(
            session.execute(select(Batch.id, Batch.status).where(Batch.send_id == send_id)).all()
        )


def _status(send_id: int) -> str:
    with session_scope() as session:
        return service.get_send(session, send_id).status


def test_sigkill_mid_send_then_restart_mails_everyone_exactly_once(
    db_url: str, broker_url: str, fake: FakeSendGrid, workers: list[Worker], tmp_path: Path
) -> None:
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, AUDIENCE, topics=["learning-design"])
        add_people(session, 50, prefix="elsewhere", topics=["clinical-ai"])  # not the segment
    env = worker_env(db_url, broker_url, fake, BRIEFMAIL_BATCH_SIZE="50")
    fake.plan(202, times=3)
    fake.plan(202, delay=3600)  # the fourth request is taken, then hangs: kill lands here
    workers.append(Worker(env, tmp_path / "worker1.log"))
    workers[0].wait_ready()

    # `send --now --wait` watches the send from the database while workers run it.
    waiting = subprocess.Popen(
        [sys.executable, "-m", "briefmail", "send", slug, "--now", "--wait"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if not fake.wait_for_requests(4, timeout=60):
        waiting.kill()
        out, err = waiting.communicate()
        raise AssertionError(
            f"no requests; send said:\n{out}\n{err}\n{workers[0].log.read_text()[-2000:]}"
        )
    workers[0].kill()
    with session_scope() as session:
        send_id = session.scalars(select(Send.id)).one()

    before = _batches(send_id)
    assert "sending" in before.values()  # the kill caught a batch in flight
    workers.append(Worker(env, tmp_path / "worker2.log"))
    workers[1].wait_ready()
    wait_until(
        lambda: not {"pending", "sending"} & set(_batches(send_id).values()),
        what="every batch settled or unknown",
    )
    # Nobody was mailed twice, whatever the state of the in-flight batches.
    counts = Counter(p["email"] for p in fake.accepted)
    assert set(counts.values()) == {1}
    unknown = [b for b, s in _batches(send_id).items() if s == "unknown"]
    assert unknown  # the hung batch's outcome cannot be known from the database
    assert _status(send_id) == "sending"

    # SendGrid's events for what it accepted arrive (the webhook stores them).
    store_events(fake.events())
    wait_until(
        lambda: "unknown" not in _batches(send_id).values() or _left_without_events(send_id, fake),
        what="events settle",
    )
    # A batch claimed but killed before its request left has no events: the operator
    # checks SendGrid's activity (nothing there) and resends it.
    for batch_id in _left_without_events(send_id, fake):
        subprocess.run(
            [sys.executable, "-m", "briefmail", "sends", "resolve", str(batch_id), "--resend"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
    wait_until(lambda: _status(send_id) == "sent", what="send finished")
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert out.strip().splitlines()[-1] == str(send_id)  # the id, last
    assert f"send {send_id} (brief)" in out
    assert "sent" in err  # the progress bar's last state

    counts = Counter(p["email"] for p in fake.accepted)
    with session_scope() as session:
        audience = set(session.scalars(select(Delivery.email).where(Delivery.send_id == send_id)))
        view = service.get_send(session, send_id)
    assert len(audience) == AUDIENCE
    assert set(counts) == audience  # nobody skipped, nobody outside the segment
    assert set(counts.values()) == {1}  # nobody twice
    assert (view.status, view.accepted, view.failed) == ("sent", AUDIENCE, 0)


def _left_without_events(send_id: int, fake: FakeSendGrid) -> list[int]:
    """Unknown batches none of whose recipients reached the stand-in."""
    reached = {int(p["custom_args"]["batch_id"]) for p in fake.accepted}
    return [b for b, s in _batches(send_id).items() if s == "unknown" and b not in reached]
