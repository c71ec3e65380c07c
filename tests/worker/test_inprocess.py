"""`briefmail worker` with no broker: the same engine in a loop, no server needed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from briefmail import clock
from briefmail.db.models import Send
from briefmail.db.session import session_scope
from briefmail.sending import service
from tests.sending.helpers import add_people, store_brief
from tests.worker.conftest import wait_until
from tests.worker.tcp_proxy import TcpProxy


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


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_in_process_worker_rides_out_a_database_outage(db_url: str, tmp_path: Path) -> None:
    """The database goes away (every connection cut, new ones refused) and comes back:
    the worker logs one line per try, waits longer each time, and sends what came due."""
    url = make_url(db_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432)).up()
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, 3, topics=["learning-design"])
        first = service.create_send(session, slug, at=clock.now(), now=clock.now()).id
    env = dict(
        os.environ,
        BRIEFMAIL_TICK_SECONDS="0.2",
        BRIEFMAIL_DATABASE_URL=url.set(port=proxy.port).render_as_string(hide_password=False),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "briefmail", "worker"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def status(send_id: int) -> str:
        with session_scope() as session:  # straight to the database, not via the proxy
            return service.get_send(session, send_id).status

    try:
        wait_until(lambda: status(first) == "sent", timeout=60, what="the first send")
        proxy.down()
        with session_scope() as session:
            add_people(session, 2, prefix="late", topics=["learning-design"])
            second = service.create_send(session, slug, at=clock.now(), now=clock.now()).id
        time.sleep(4)  # several failed rounds
        assert process.poll() is None  # still running
        assert status(second) == "scheduled"
        proxy.up()
        wait_until(lambda: status(second) == "sent", timeout=90, what="the send after the outage")
        assert process.poll() is None
    finally:
        proxy.down()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert "worker stopped" in out, err
    outage = [line for line in err.splitlines() if "database unavailable" in line]
    assert len(outage) >= 2, err
    assert "trying again in 0.2 s" in outage[0]
    assert "trying again in 0.4 s" in outage[1]  # backing off
    assert "Traceback" not in err
    assert len(list((tmp_path / "outbox").rglob("*.eml"))) == 5
