from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.accounts import sessions, users
from briefmail.db.models import ConsoleSession, User

T0 = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)
IDLE = timedelta(minutes=30)


def _user(session: Session) -> User:
    return users.add_user(session, "dana@example.org", "editor", "correct horse battery", now=T0)


def test_only_the_hash_of_the_cookie_is_stored(session: Session) -> None:
    token = sessions.start_session(session, _user(session), ip="10.0.0.1", user_agent="ua", now=T0)
    session.commit()
    row = session.scalars(select(ConsoleSession)).one()
    assert len(token) >= 43  # 256 random bits
    assert token not in (row.token_hash, row.ip, row.user_agent)
    assert row.token_hash == sessions.token_hash(token)
    active = sessions.resume_session(session, token, now=T0, idle=IDLE)
    assert active is not None
    assert active.user.email == "dana@example.org"
    assert sessions.resume_session(session, token + "x", now=T0, idle=IDLE) is None
    assert sessions.resume_session(session, "", now=T0, idle=IDLE) is None


def test_a_session_expires_after_inactivity_and_requests_keep_it_alive(session: Session) -> None:
    token = sessions.start_session(session, _user(session), ip="", user_agent="", now=T0)
    session.commit()
    at = T0
    for _ in range(4):  # a request every 20 minutes: never idle for 30
        at += timedelta(minutes=20)
        assert sessions.resume_session(session, token, now=at, idle=IDLE) is not None
        session.commit()
    row = session.scalars(select(ConsoleSession)).one()
    assert clock.as_utc(row.last_seen_at) == at
    late = at + IDLE + timedelta(seconds=1)
    assert sessions.resume_session(session, token, now=late, idle=IDLE) is None
    session.commit()
    # Ended for good: coming back within the idle time of the end does not revive it.
    assert sessions.resume_session(session, token, now=at, idle=IDLE) is None


def test_sign_out_ends_only_that_session(session: Session) -> None:
    user = _user(session)
    phone = sessions.start_session(session, user, ip="", user_agent="phone", now=T0)
    laptop = sessions.start_session(session, user, ip="", user_agent="laptop", now=T0)
    sessions.end_session(session, phone, now=T0)
    session.commit()
    assert sessions.resume_session(session, phone, now=T0, idle=IDLE) is None
    assert sessions.resume_session(session, laptop, now=T0, idle=IDLE) is not None


def test_csrf_token_is_tied_to_the_session_and_not_its_stored_hash() -> None:
    assert sessions.csrf_token("a") == sessions.csrf_token("a")
    assert sessions.csrf_token("a") != sessions.csrf_token("b")
    assert sessions.csrf_token("a") != sessions.token_hash("a")
