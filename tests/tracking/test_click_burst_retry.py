"""A batch of clicks whose transaction fails (a database outage) is retried; the retry
marks the earlier clicks of a burst as the first attempt would have."""

from __future__ import annotations

from sqlalchemy import select

from briefmail.db.models import Click
from briefmail.db.session import session_scope
from briefmail.tracking.clicks import ClickStore, RawClick, new_event_key
from tests.tracking.factories import T0, build_world
from tests.web.conftest import BROWSER_UA


class _FailingCommit(Exception):
    pass


def test_a_burst_straddling_a_failed_batch_is_still_marked(db_url) -> None:
    world = build_world(db_url)
    sub = world.subscribers[0]

    def click(link_id: int, seconds: float) -> RawClick:
        return RawClick(
            new_event_key(), world.send_id, link_id, sub, T0.timestamp() + seconds,
            "GET", "203.0.113.9", BROWSER_UA, "",
        )  # fmt: skip

    store = ClickStore(window_seconds=60)
    first = [click(1, 600.0), click(2, 600.5)]
    with session_scope(db_url) as s:
        store.store(s, first)
    third = [click(3, 601.4)]
    try:
        with session_scope(db_url) as s:
            store.store(s, third)
            raise _FailingCommit  # the commit never happens
    except _FailingCommit:
        pass
    with session_scope(db_url) as s:
        store.store(s, third)  # the recorder's retry of the same batch
    with session_scope(db_url) as s:
        result = {c.event_key: (c.automated, c.reason) for c in s.scalars(select(Click))}
    for c in (*first, *third):
        assert result[c.event_key] == (True, "burst")
