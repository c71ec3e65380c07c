from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from briefmail.accounts import sessions, users
from briefmail.accounts.signin import SignInLimits, sign_in
from briefmail.db.models import SignInAttempt

T0 = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
LIMITS = SignInLimits(per_account=3, per_ip=5, window=timedelta(minutes=15))


def _try(session: Session, email: str, password: str, *, ip: str = "10.0.0.1", at: datetime = T0):  # type: ignore[no-untyped-def]
    result = sign_in(session, email, password, ip=ip, user_agent="test", now=at, limits=LIMITS)
    session.commit()
    return result


def test_right_password_opens_a_session(session: Session) -> None:
    users.add_user(session, "dana@example.org", "editor", PASSWORD, now=T0)
    result = _try(session, " Dana@Example.org", PASSWORD)
    assert result.outcome == "ok"
    assert result.user is not None
    assert result.token
    active = sessions.resume_session(session, result.token, now=T0, idle=timedelta(minutes=5))
    assert active is not None
    assert active.user.email == "dana@example.org"


def test_unknown_email_and_wrong_password_look_the_same(session: Session) -> None:
    users.add_user(session, "dana@example.org", "editor", PASSWORD, now=T0)
    assert _try(session, "dana@example.org", "not the password").outcome == "wrong"
    assert _try(session, "nobody@example.org", PASSWORD).outcome == "wrong"
    wrong = _try(session, "dana@example.org", "x" * 5000)  # too long to hash: refused
    assert (wrong.outcome, wrong.user, wrong.token) == ("wrong", None, None)


def test_an_account_is_throttled_even_for_the_right_password(session: Session) -> None:
    users.add_user(session, "dana@example.org", "editor", PASSWORD, now=T0)
    for minute in range(3):
        at = T0 + timedelta(minutes=minute)
        assert _try(session, "dana@example.org", "guess", ip=f"10.0.0.{minute}", at=at).outcome == (
            "wrong"
        )
    at = T0 + timedelta(minutes=3)
    throttled = _try(session, "dana@example.org", PASSWORD, ip="10.9.9.9", at=at)
    assert throttled.outcome == "throttled"
    # The oldest counted failure (T0) leaves the window at T0 + 15 min.
    assert throttled.retry_after == 12 * 60 + 1
    later = T0 + timedelta(minutes=15, seconds=1)
    assert _try(session, "dana@example.org", PASSWORD, at=later).outcome == "ok"


def test_a_success_starts_the_account_count_afresh(session: Session) -> None:
    users.add_user(session, "dana@example.org", "editor", PASSWORD, now=T0)
    _try(session, "dana@example.org", "typo", at=T0)
    _try(session, "dana@example.org", "typo", at=T0 + timedelta(seconds=1))
    assert _try(session, "dana@example.org", PASSWORD, at=T0 + timedelta(seconds=2)).outcome == "ok"
    _try(session, "dana@example.org", "typo", at=T0 + timedelta(seconds=3))
    _try(session, "dana@example.org", "typo", at=T0 + timedelta(seconds=4))
    at = T0 + timedelta(seconds=5)
    assert _try(session, "dana@example.org", PASSWORD, at=at).outcome == "ok"


def test_one_ip_guessing_many_accounts_is_throttled(session: Session) -> None:
    users.add_user(session, "dana@example.org", "editor", PASSWORD, now=T0)
    for n in range(5):
        _try(session, f"user{n}@example.org", "guess", ip="203.0.113.7")
    assert _try(session, "dana@example.org", PASSWORD, ip="203.0.113.7").outcome == "throttled"
    assert _try(session, "dana@example.org", PASSWORD, ip="198.51.100.1").outcome == "ok"


def test_old_attempts_are_pruned(session: Session) -> None:
    for n in range(4):
        _try(session, f"user{n}@example.org", "guess", at=T0)
    _try(session, "late@example.org", "guess", at=T0 + timedelta(hours=1))
    assert session.scalar(select(func.count()).select_from(SignInAttempt)) == 1
