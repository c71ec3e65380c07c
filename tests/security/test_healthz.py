"""/healthz is public: it must say whether the app is healthy and how many clicks it
holds, never the text of an error (which names hosts, users, paths)."""

from __future__ import annotations

import httpx


def test_health_is_status_and_counts_only(db_url, start_server) -> None:
    server = start_server()
    leak = 'OperationalError: connection to "db.internal" (10.0.0.5) user "briefmail" failed'
    server.ctx.recorder.last_error = (
        leak  # what a failed flush leaves (tests/web/test_click_outage.py)
    )
    server.ctx.recorder.failures = 1
    answer = httpx.get(f"{server.url}/healthz")
    assert answer.status_code == 200
    assert "10.0.0.5" not in answer.text
    assert "db.internal" not in answer.text
    body = answer.json()
    assert body["status"] == "degraded"
    assert all(isinstance(count, int) for count in body["clicks"].values())
    assert set(body) == {"status", "clicks", "alarms"}
    assert body["alarms"] is None or all(isinstance(n, int) for n in body["alarms"].values())
    server.ctx.recorder.last_error = None  # the next flush worked
    assert httpx.get(f"{server.url}/healthz").json()["status"] == "ok"
