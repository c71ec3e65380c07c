from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.accounts import tokens
from briefmail.db.models import ApiToken
from briefmail.errors import InvalidInputError, NotFoundError, StateError

T0 = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)


def test_a_token_is_stored_only_as_a_hash(session: Session) -> None:
    token, _row = tokens.create_token(session, "cms", ["briefs:write", "read"], now=T0, by="ops")
    session.commit()
    assert token.startswith("bm_")
    assert len(token) > 40
    stored = session.scalars(select(ApiToken)).one()
    assert token not in (stored.token_hash, stored.name)
    assert stored.scopes == ["read", "briefs:write"]  # canonical order
    found = tokens.authenticate(session, token, now=T0)
    assert found is not None
    assert found.name == "cms"
    assert tokens.has_scope(found, "read")
    assert not tokens.has_scope(found, "sends:write")


@pytest.mark.parametrize("bad", ["", "bm_", "bm_nope", "Bearer x", "x" * 500])
def test_unknown_tokens_are_refused(session: Session, bad: str) -> None:
    tokens.create_token(session, "cms", ["read"], now=T0, by="ops")
    assert tokens.authenticate(session, bad, now=T0) is None


def test_last_used_is_noted_at_most_once_a_minute(session: Session) -> None:
    token, _ = tokens.create_token(session, "cms", ["read"], now=T0, by="ops")
    for seconds in (0, 30, 61):
        tokens.authenticate(session, token, now=T0 + timedelta(seconds=seconds))
    session.commit()
    row = session.scalars(select(ApiToken)).one()
    assert clock.as_utc(row.last_used_at) == T0 + timedelta(seconds=61)  # type: ignore[arg-type]


def test_revoke_refuses_the_token_and_frees_the_name(session: Session) -> None:
    old, _ = tokens.create_token(session, "cms", ["read"], now=T0, by="ops")
    with pytest.raises(StateError, match="exists"):
        tokens.create_token(session, "cms", ["read"], now=T0, by="ops")
    tokens.revoke_token(session, "cms", now=T0)
    new, _ = tokens.create_token(session, "cms", ["read"], now=T0, by="ops")
    session.commit()
    assert tokens.authenticate(session, old, now=T0) is None
    assert tokens.authenticate(session, new, now=T0) is not None
    assert [(t.name, t.revoked_at is None) for t in tokens.list_tokens(session)] == [
        ("cms", False),  # revoked, oldest first
        ("cms", True),
    ]
    with pytest.raises(NotFoundError):
        tokens.revoke_token(session, "nope", now=T0)


def test_bad_names_and_scopes_are_named(session: Session) -> None:
    with pytest.raises(InvalidInputError, match="admin is not a scope"):
        tokens.create_token(session, "cms", ["read", "admin"], now=T0, by="ops")
    with pytest.raises(InvalidInputError, match="at least one"):
        tokens.create_token(session, "cms", [" "], now=T0, by="ops")
    with pytest.raises(InvalidInputError, match="name"):
        tokens.create_token(session, "a b", ["read"], now=T0, by="ops")
