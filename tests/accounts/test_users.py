from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from briefmail.accounts import sessions, users
from briefmail.accounts.passwords import verify_password
from briefmail.errors import InvalidInputError, NotFoundError, StateError

T0 = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)
IDLE = timedelta(minutes=30)
PASSWORD = "correct horse battery"


def test_add_stores_an_argon2_hash_and_a_lowercased_email(session: Session) -> None:
    user = users.add_user(session, " Dana@Example.ORG ", "editor", PASSWORD, now=T0)
    session.commit()
    assert (user.email, user.role) == ("dana@example.org", "editor")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert verify_password(PASSWORD, user.password_hash)[0]
    assert not verify_password("wrong horse battery", user.password_hash)[0]
    assert [u.email for u in users.list_users(session)] == ["dana@example.org"]
    assert users.get_user(session, "DANA@example.org").id == user.id


def test_add_refuses_bad_input_and_duplicates(session: Session) -> None:
    with pytest.raises(InvalidInputError, match="at least 12 characters"):
        users.add_user(session, "a@example.org", "editor", "short", now=T0)
    with pytest.raises(InvalidInputError, match="not one of"):
        users.add_user(session, "a@example.org", "owner", PASSWORD, now=T0)
    with pytest.raises(InvalidInputError, match="not an email address"):
        users.add_user(session, "nobody", "editor", PASSWORD, now=T0)
    users.add_user(session, "a@example.org", "editor", PASSWORD, now=T0)
    with pytest.raises(StateError, match="already exists"):
        users.add_user(session, "A@example.org", "admin", PASSWORD, now=T0)


def test_a_role_change_ends_the_users_sessions(session: Session) -> None:
    user = users.add_user(session, "m@example.org", "marketing", PASSWORD, now=T0)
    token = sessions.start_session(session, user, ip="10.0.0.1", user_agent="ua", now=T0)
    session.commit()
    assert sessions.resume_session(session, token, now=T0, idle=IDLE) is not None
    users.set_role(session, "m@example.org", "editor", now=T0 + timedelta(minutes=1))
    session.commit()
    assert sessions.resume_session(session, token, now=T0 + timedelta(minutes=2), idle=IDLE) is None
    assert users.get_user(session, "m@example.org").role == "editor"


def test_the_last_admin_stays(session: Session) -> None:
    users.add_user(session, "root@example.org", "admin", PASSWORD, now=T0)
    with pytest.raises(StateError, match="last admin"):
        users.set_role(session, "root@example.org", "editor", now=T0)
    with pytest.raises(StateError, match="last admin"):
        users.remove_user(session, "root@example.org")
    users.add_user(session, "second@example.org", "admin", PASSWORD, now=T0)
    users.remove_user(session, "root@example.org")
    session.commit()
    assert [u.email for u in users.list_users(session)] == ["second@example.org"]


def test_remove_ends_sessions_and_unknown_users_are_named(session: Session) -> None:
    user = users.add_user(session, "e@example.org", "editor", PASSWORD, now=T0)
    token = sessions.start_session(session, user, ip="10.0.0.1", user_agent="", now=T0)
    users.remove_user(session, "e@example.org")
    session.commit()
    assert sessions.resume_session(session, token, now=T0, idle=IDLE) is None
    with pytest.raises(NotFoundError, match=r"no user 'e@example\.org'"):
        users.remove_user(session, "e@example.org")
