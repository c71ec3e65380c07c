"""`briefmail worker` with no broker: the same engine in a loop, no server needed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from briefmail import clock
from briefmail.db.models import Send
from briefmail.db.session import session_scope
from briefmail.sending import service
from tests.sending.helpers import add_people, store_brief
from tests.worker.conftest import wait_until


def test_the_worker_runs_in_process_without_a_broker(tmp_path: Path) -> None:
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, 3, topics=["learning-design"])
        service.create_send(session, slug, at=clock.now(), now=clock.now())
    env = dict(os.environ, BRIEFMAIL_TICK_SECONDS="0.2")
    assert not env.get("BRIEFMAIL_BROKER_URL")
    process = subprocess.Popen(
        [sys.executable, "-m", "briefmail", "worker"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def sent() -> bool:
            with session_scope() as session:
                return session.scalars(select(Send.status)).one() == "sent"

        wait_until(sent, timeout=60, what="the in-process worker")
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert "working in-process" in out
    assert "worker stopped" in out, err
    assert len(list((tmp_path / "outbox").rglob("*.eml"))) == 3
