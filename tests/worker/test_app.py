"""The Celery configuration that exactly-once relies on."""

from __future__ import annotations

import pytest

from briefmail.config import get_settings


def test_the_app_acks_late_prefetches_one_and_ticks_from_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BRIEFMAIL_BROKER_URL", "redis://127.0.0.1:6379/4")
    monkeypatch.setenv("BRIEFMAIL_TICK_SECONDS", "30")
    monkeypatch.setenv("BRIEFMAIL_HTTP_TIMEOUT_SECONDS", "200")
    get_settings.cache_clear()
    from worker.app import make_app

    conf = make_app().conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_url == "redis://127.0.0.1:6379/4"
    assert conf.result_backend == "redis://127.0.0.1:6379/4"
    # Longer than the longest task (60 s of work + a 200 s request + commits), four times.
    assert conf.broker_transport_options["visibility_timeout"] == 4 * (60 + 200 + 30)
    tick = conf.beat_schedule["tick"]
    assert (tick["task"], tick["schedule"]) == ("briefmail.tick", 30.0)
