"""The SendGrid backend against the local stand-in: body, limits, faults, unknown outcomes."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from briefmail import clock
from briefmail.db.models import Batch, Delivery, Send
from briefmail.db.session import session_scope
from briefmail.render import personalise as p
from briefmail.render.personalise import Template
from briefmail.sending import service
from briefmail.sending.backends.base import (
    PermanentError,
)
from briefmail.sending.backends.sendgrid import SendGridBackend, build_body
from briefmail.sending.retry import RetryPolicy
from tests.fakes.sendgrid_server import API_KEY, BadRequest, FakeSendGrid, exactly_once, validate
from tests.sending.helpers import (
    add_people,
    make_engine,
    outgoing_batch,
    store_brief,
    store_events,
)


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server


def backend(fake: FakeSendGrid, timeout: float = 5.0) -> SendGridBackend:
    return SendGridBackend(api_key=API_KEY, host=fake.url, timeout=timeout)


def test_body_has_one_personalization_per_recipient_and_passes_sendgrid_checks() -> None:
    body = build_body(outgoing_batch(3))
    personalizations = validate(body)
    assert len(personalizations) == 3
    second = personalizations[1]
    assert second["to"] == [{"email": "r1@example.org", "name": "R 1"}]
    assert second["substitutions"]["%%bm:l1%%"] == "https://b.example.org/c/1"
    assert second["custom_args"] == {
        "send_id": "7",
        "batch_id": "9",
        "delivery_id": "101",
        "subscriber_id": "2",
        "attempt_key": "k1",
    }
    assert second["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert body["tracking_settings"] == {
        "click_tracking": {"enable": False, "enable_text": False},
        "open_tracking": {"enable": False},
        "subscription_tracking": {"enable": False},
    }
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (lambda: outgoing_batch(1001), "at most 1000"),
        (
            lambda: outgoing_batch(
                1,
                values={p.NAME: "x" * 10_001, p.NAME_HTML: "x", "l1": "u", p.UNSUBSCRIBE_URL: "u"},
            ),
            "10000 per recipient",
        ),
        (lambda: outgoing_batch(1, headers={"Subject": "x"}), "reserved"),
    ],
)
def test_limits_are_refused_before_sending(batch: Any, message: str) -> None:
    with pytest.raises(PermanentError, match=message):
        build_body(batch())


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["personalizations"].extend(b["personalizations"][:1]), "personalizations"),
        (
            lambda b: b["personalizations"][0]["headers"].update({"To": "x"}),
            "personalizations.0.headers",
        ),
        (
            lambda b: b["personalizations"][0]["substitutions"].update({"big": "y" * 10_000}),
            "personalizations.0.substitutions",
        ),
        (lambda b: b["content"].reverse(), "content"),
        (
            lambda b: b["personalizations"][0]["custom_args"].update({"n": 1}),
            "personalizations.0.custom_args",
        ),
    ],
)
def test_the_stand_in_refuses_what_sendgrid_refuses(mutate: Any, field: str) -> None:
    body = build_body(outgoing_batch(2))
    mutate(body)
    with pytest.raises(BadRequest) as caught:
        validate(body)
    assert caught.value.field == field


def test_the_stand_in_refuses_more_than_1000_recipients() -> None:
    body = build_body(outgoing_batch(1000))
    body["personalizations"][0]["to"].append({"email": "extra@example.org"})
    with pytest.raises(BadRequest, match="1000 total recipients"):
        validate(body)


def _setup(count: int, **kwargs: Any) -> int:
    clock.set_now(None)
    with session_scope() as session:
        slug = store_brief(session)
        add_people(session, count, topics=["learning-design"], **kwargs)
        return service.create_send(session, slug, at=clock.now(), now=clock.now()).id


def test_each_recipient_gets_their_own_values_through_substitutions(
    db_url: str, fake: FakeSendGrid
) -> None:
    send_id = _setup(25)
    engine = make_engine(backend(fake), batch_size=10)
    view = service.drain_send(engine, send_id)
    assert (view.status, view.accepted) == ("sent", 25)
    assert [r["personalizations"] for r in fake.requests] == [10, 10, 5]
    assert set(exactly_once(fake.accepted).values()) == {1}
    with session_scope() as session:
        html = session.get_one(Send, send_id).html_template or ""
        batches = {b.id: b for b in session.scalars(select(Batch).where(Batch.send_id == send_id))}
    template = Template.compile(html)
    unsubscribe_links = set()
    for entry in fake.accepted:
        subs = {
            k.removeprefix("%%bm:").removesuffix("%%"): v for k, v in entry["substitutions"].items()
        }
        filled = template.fill(subs)
        assert "%%bm:" not in filled
        assert subs[p.TOPICS_HTML] == "Learning design"  # their own reason line
        assert "Learning design" in filled
        unsubscribe_links.add(subs[p.UNSUBSCRIBE_URL])
        assert entry["headers"]["List-Unsubscribe"].startswith(
            f"<{subs[p.UNSUBSCRIBE_URL]}>, <mailto:"
        )
        batch = batches[int(entry["custom_args"]["batch_id"])]
        assert entry["custom_args"]["attempt_key"] == batch.attempt_key
        assert batch.provider_message_id == entry["message_id"]
    assert len(unsubscribe_links) == 25
    assert fake.bodies[0]["subject"].startswith("Clinician-Educators")


def test_429_and_500_are_retried_honouring_retry_after(db_url: str, fake: FakeSendGrid) -> None:
    send_id = _setup(20)
    fake.plan(429, retry_after=30)
    fake.plan(500)
    t = clock.now()
    clock.set_now(t)
    engine = make_engine(
        backend(fake), batch_size=10, retry=RetryPolicy(max_attempts=3, base_seconds=10)
    )
    engine.work()  # both batches refused: back to pending, due later (in the database)
    with session_scope() as session:
        due = [
            clock.as_utc(b.due_at) - t
            for b in session.scalars(
                select(Batch).where(Batch.send_id == send_id).order_by(Batch.seq)
            )
        ]
        statuses = set(session.scalars(select(Batch.status).where(Batch.send_id == send_id)))
    assert statuses == {"pending"}
    assert timedelta(seconds=30) <= due[0] <= timedelta(seconds=37.5)  # Retry-After is a floor
    assert timedelta(seconds=5) <= due[1] <= timedelta(seconds=10)  # backoff with jitter
    clock.set_now(t + timedelta(seconds=11))
    engine.work()
    assert len(fake.accepted) == 10  # the second batch; the first still waits
    clock.set_now(t + timedelta(seconds=38))
    engine.work()
    with session_scope() as session:
        view = service.get_send(session, send_id)
    assert (view.status, view.accepted, view.failed) == ("sent", 20, 0)
    assert [r["status"] for r in fake.requests] == [429, 500, 202, 202]
    assert set(exactly_once(fake.accepted).values()) == {1}
    assert len(fake.accepted) == 20


def test_after_the_last_attempt_a_batch_fails_and_the_rest_goes_on(
    db_url: str, fake: FakeSendGrid
) -> None:
    send_id = _setup(20)
    fake.plan(503, times=3, batch_id=1)  # all three attempts of batch 1 (max_attempts=3)
    engine = make_engine(backend(fake), batch_size=10)
    view = service.drain_send(engine, send_id)
    assert view.status == "failed"
    assert (view.accepted, view.failed) == (10, 10)
    assert len(view.errors) == 1
    assert "gave up after 3 attempts" in view.errors[0]
    assert "HTTP 503" in view.errors[0]
    with session_scope() as session:
        send = session.get_one(Send, send_id)
        assert send.error
        assert "gave up" in send.error


def test_a_400_is_not_retried_and_its_error_is_kept(db_url: str, fake: FakeSendGrid) -> None:
    send_id = _setup(20)
    fake.plan(400, body="The from address does not match a verified Sender Identity.", batch_id=1)
    engine = make_engine(backend(fake), batch_size=10)
    view = service.drain_send(engine, send_id)
    assert view.status == "failed"
    assert [r["status"] for r in fake.requests] == [400, 202]
    assert "verified Sender Identity" in view.errors[0]
    assert (view.accepted, view.failed) == (10, 10)
    with session_scope() as session:
        errors = session.scalars(
            select(Delivery.error).where(Delivery.send_id == send_id, Delivery.status == "failed")
        ).all()
    assert len(errors) == 10
    assert all("HTTP 400" in (e or "") for e in errors)


def test_a_slow_answer_within_the_timeout_is_fine(db_url: str, fake: FakeSendGrid) -> None:
    send_id = _setup(5)
    fake.plan(202, delay=0.5)
    view = service.drain_send(make_engine(backend(fake, timeout=5)), send_id)
    assert (view.status, view.accepted) == ("sent", 5)


def test_no_answer_means_unknown_then_events_settle_it(db_url: str, fake: FakeSendGrid) -> None:
    send_id = _setup(6)
    fake.plan(202, delay=1.5)  # longer than the client's timeout: accepted, unanswered
    engine = make_engine(backend(fake, timeout=0.3))
    view = service.drain_send(engine, send_id)
    assert view.status == "sending"
    assert view.batches == {"unknown": 1}
    assert "briefmail sends resolve" in view.errors[0]
    assert len(fake.accepted) == 6  # SendGrid took it; we must not send it again
    engine.tick()
    engine.work()
    assert len(fake.accepted) == 6
    store_events(fake.events())
    report = engine.tick()
    assert set(report.settled.values()) == {"accepted"}
    with session_scope() as session:
        view = service.get_send(session, send_id)
    assert (view.status, view.accepted) == ("sent", 6)
    assert set(exactly_once(fake.accepted).values()) == {1}


def test_events_of_another_attempt_prove_nothing(db_url: str, fake: FakeSendGrid) -> None:
    send_id = _setup(3)
    fake.plan(202, delay=1.0)
    engine = make_engine(backend(fake, timeout=0.2))
    service.drain_send(engine, send_id)
    events = fake.events()
    for e in events:
        e["attempt_key"] = "some-other-attempt"
    store_events(events)
    engine.tick()
    with session_scope() as session:
        assert service.get_send(session, send_id).batches == {"unknown": 1}


@pytest.mark.parametrize("verdict", ["accepted", "resend"])
def test_an_operator_resolves_an_unknown_batch(
    db_url: str, fake: FakeSendGrid, verdict: str, tmp_path: Path
) -> None:
    send_id = _setup(4)
    fake.hold()  # the request arrives but no answer comes
    engine = make_engine(backend(fake, timeout=0.3))
    service.drain_send(engine, send_id)
    fake.release()
    with session_scope() as session:
        batch_id = session.scalars(select(Batch.id).where(Batch.send_id == send_id)).one()
        if verdict == "resend":
            fake.reset()  # say the activity log shows nothing arrived
        service.resolve_batch(
            session, batch_id, accepted=verdict == "accepted", now=clock.now(), by="ops"
        )
    view = service.drain_send(engine, send_id)
    assert (view.status, view.accepted) == ("sent", 4)
    assert len(fake.accepted) == 4
    assert set(exactly_once(fake.accepted).values()) == {1}


def _post_labelled(url: str, raw: bytes, content_type: str) -> int:
    request = urllib.request.Request(
        f"{url}/v3/mail/send",
        data=raw,
        headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def test_the_stand_in_refuses_a_body_that_is_not_labelled_json(fake: FakeSendGrid) -> None:
    raw = orjson.dumps(build_body(outgoing_batch(1)))
    assert _post_labelled(fake.url, raw, "text/plain") == 415
    assert _post_labelled(fake.url, raw, "application/json; charset=utf-8") == 202
    assert [r["status"] for r in fake.requests] == [415, 202]
