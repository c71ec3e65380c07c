"""Console actions that reach the ledger: proofs, scheduling, cancelling, the weekly slot,
and settling a batch a crash left in doubt; each one in the audit log."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from briefmail import clock
from briefmail.briefs.store import import_brief
from briefmail.db.models import AuditEntry, Batch, Send
from briefmail.db.session import session_scope
from briefmail.sending import claims, service
from briefmail.sending.backends.sendgrid import SendGridBackend
from briefmail.sending.service import SendView
from tests.conftest import EXAMPLE_BRIEF
from tests.console.helpers import PEOPLE, csrf, signed_in
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.sending.helpers import T0, dead_owner, make_engine, started_send
from tests.web.server import LiveServer

Start = Callable[..., LiveServer]


def audit_trail() -> list[tuple[str, str, str]]:
    with session_scope() as session:
        rows = session.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.source))
        return [(actor, action, source) for actor, action, source in rows]


def wait_for(send_id: int, status: str, timeout: float = 30) -> SendView:
    deadline = time.monotonic() + timeout
    while True:
        with session_scope() as session:
            view = service.get_send(session, send_id)
        if view.status == status or time.monotonic() > deadline:
            return view
        time.sleep(0.1)


def test_proof_schedule_cancel_and_the_weekly_slot(console_server: Start, tmp_path: Path) -> None:
    with session_scope() as session:
        slug = import_brief(session, EXAMPLE_BRIEF).slug
    server = console_server()
    editor = signed_in(server.url, "editor")
    token = csrf(editor)
    proof = {"csrf_token": token, "addresses": "desk@example.org,\nchief@example.org"}
    answer = editor.post(f"/console/briefs/{slug}/proof", data=proof)
    assert answer.headers["location"] == "/console/sends/1?done=proof"
    assert wait_for(1, "sent").accepted == 2  # a draft may be proofed; it went out here
    assert len(list((tmp_path / "outbox").rglob("*.eml"))) == 2
    editor.post(f"/console/briefs/{slug}/approve", data={"csrf_token": token})

    marketing = signed_in(server.url, "marketing")
    token = csrf(marketing)
    day = (clock.now() + timedelta(days=2)).date()
    when = {"csrf_token": token, "mode": "at", "date": day.isoformat(), "time": "09:00"}
    narrowed = {**when, "tz": "America/New_York", "topics": "learning-design"}
    answer = marketing.post(f"/console/briefs/{slug}/send", data=narrowed)
    assert answer.headers["location"] == "/console/sends/2?done=scheduled"
    view = wait_for(2, "scheduled")
    expected = datetime.combine(day, datetime.min.time().replace(hour=9))
    assert view.scheduled_for == expected.replace(tzinfo=ZoneInfo("America/New_York"))
    with session_scope() as session:
        assert session.get_one(Send, 2).topics_filter == ["learning-design"]
    bad = marketing.post(f"/console/briefs/{slug}/send", data={**when, "tz": "Mars/Olympus"})
    assert bad.status_code == 400
    assert "is not an IANA time zone" in bad.text
    page = marketing.get("/console/sends/2")
    assert ">Cancel</button>" in page.text
    answer = marketing.post("/console/sends/2/cancel", data={"csrf_token": token})
    assert answer.headers["location"] == "/console/sends/2?done=cancelled"
    assert wait_for(2, "cancelled").status == "cancelled"

    slot = {"csrf_token": token, "day": "wed", "time": "10:30", "tz": "Europe/Paris"}
    assert marketing.post("/console/schedule", data=slot).status_code == 303
    assert "wed 10:30 Europe/Paris" in marketing.get("/console/schedule").text

    trail = audit_trail()
    assert (PEOPLE["editor"], "send.proof", "127.0.0.1") in trail
    assert (PEOPLE["editor"], "brief.approve", "127.0.0.1") in trail
    for action in ("send.create", "send.cancel", "schedule.set"):
        assert (PEOPLE["marketing"], action, "127.0.0.1") in trail


def test_a_batch_in_doubt_shows_its_evidence_and_a_marketer_settles_it(
    console_server: Start,
) -> None:
    send_id = started_send(3)  # the clock stands at T0 from here on
    dead = dead_owner()  # a worker whose heartbeat has stopped
    with session_scope() as session:
        claim = claims.claim_next_batch(session, now=T0, worker=dead)
        assert claim is not None
        batch_id = claim.batch_id
    with FakeSendGrid() as fake:  # nothing in SendGrid's answers can tell what happened
        engine = make_engine(SendGridBackend(api_key="x", host=fake.url, timeout=1))
        assert engine.tick().settled == {batch_id: "unknown"}

    server = console_server()
    marketing = signed_in(server.url, "marketing")
    assert "is in doubt" in marketing.get("/console/").text  # the dashboard's alarm
    page = marketing.get(f"/console/sends/{send_id}").text
    assert "Batch 1 is in doubt" in page
    assert f"Claimed by {dead}" in page
    assert f"attempt {claim.attempt_key}: no provider event" in page
    assert ">Mark accepted</button>" in page
    assert ">Resend</button>" in page

    editor = signed_in(server.url, "editor")
    target = f"/console/sends/{send_id}/batches/{batch_id}"
    refused = editor.post(target, data={"csrf_token": csrf(editor), "verdict": "accepted"})
    assert refused.status_code == 403
    wrong_send = f"/console/sends/{send_id + 1}/batches/{batch_id}"
    data = {"csrf_token": csrf(marketing), "verdict": "accepted"}
    assert marketing.post(wrong_send, data=data).status_code == 404
    answer = marketing.post(target, data=data)
    assert answer.headers["location"] == f"/console/sends/{send_id}?done=accepted"
    with session_scope() as session:
        assert session.get_one(Batch, batch_id).status == "accepted"
    assert (PEOPLE["marketing"], "batch.resolve", "127.0.0.1") in audit_trail()
