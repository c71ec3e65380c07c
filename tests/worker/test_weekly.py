"""`briefmail worker` (Celery + beat) fires the weekly slot on a clock the test sets."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from briefmail import clock
from briefmail.db.models import Send
from briefmail.db.session import session_scope
from briefmail.sending import weekly
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.sending.helpers import add_people, store_brief
from tests.worker.conftest import Worker, wait_until, worker_env


def test_the_worker_sends_the_weekly_brief_to_its_segment_once(
    db_url: str, broker_url: str, fake: FakeSendGrid, workers: list[Worker], tmp_path: Path
) -> None:
    sunday = datetime(2024, 1, 14, 12, 0, tzinfo=UTC)
    clock.set_now(sunday)
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, 30, topics=["workflow-based-education"])
        add_people(session, 5, prefix="everything")  # no topics: every topic
        add_people(session, 20, prefix="ai", topics=["clinical-ai"])  # outside the segment
        add_people(session, 5, prefix="gone", topics=["learning-design"], status="unsubscribed")
        weekly.set_weekly_slot(
            session, day="mon", at="09:00", tz="America/New_York", local_time=False, now=sunday
        )
    # Monday 09:00 in New York has just passed, as far as the worker can tell.
    env = worker_env(
        db_url,
        broker_url,
        fake,
        BRIEFMAIL_FAKE_NOW="2024-01-15T14:00:30+00:00",
        BRIEFMAIL_BATCH_SIZE="10",
    )
    workers.append(Worker(env, tmp_path / "worker.log", via_cli=True))
    workers[0].wait_ready()

    def sent() -> bool:
        with session_scope() as session:
            return session.scalars(select(Send.status)).all() == ["sent"]

    wait_until(sent, what="the weekly send")
    counts = Counter(p["email"] for p in fake.accepted)
    assert set(counts.values()) == {1}
    assert sorted(counts) == sorted(
        [f"reader{i}@example.org" for i in range(30)]
        + [f"everything{i}@example.org" for i in range(5)]
    )
    with session_scope() as session:
        send = session.scalars(select(Send)).one()
        assert send.brief.slug == slug
        assert send.created_by == weekly.SLOT_CREATOR
        assert clock.as_utc(send.scheduled_for) == datetime(2024, 1, 15, 14, 0, tzinfo=UTC)
