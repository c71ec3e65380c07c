from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from briefmail.accounts import audit
from briefmail.db.models import AuditEntry

T0 = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)
DANA = audit.Actor("user", "dana@example.org", "203.0.113.9")
CMS = audit.Actor("token", "cms", "198.51.100.4")


def test_entries_say_who_what_when_and_from_where(session: Session) -> None:
    audit.record(session, DANA, audit.Action.BRIEF_APPROVE, "brief:a", now=T0)
    audit.record(
        session, CMS, audit.Action.SEND_CREATE, "send:7", now=T0 + timedelta(1), detail={"n": 1}
    )
    audit.record(session, audit.Actor.cli("ops"), audit.Action.USER_ADD, "x@y.org", now=T0)
    session.commit()
    entries = audit.list_entries(session)
    assert [(e.actor_kind, e.actor, e.action, e.target, e.source) for e in entries] == [
        ("cli", "ops", "user.add", "x@y.org", "cli"),
        ("token", "cms", "send.create", "send:7", "198.51.100.4"),
        ("user", "dana@example.org", "brief.approve", "brief:a", "203.0.113.9"),
    ]
    assert entries[1].detail == {"n": 1}
    older = audit.list_entries(session, before=entries[0].id, limit=1)
    assert [e.action for e in older] == ["send.create"]
    assert [e.actor for e in audit.list_entries(session, action="brief.approve")] == [DANA.name]
    assert [e.action for e in audit.list_entries(session, actor="cms")] == ["send.create"]


@pytest.mark.parametrize(
    "statement",
    [update(AuditEntry).values(actor="someone else"), delete(AuditEntry)],
    ids=["update", "delete"],
)
def test_the_database_refuses_to_rewrite_history(session: Session, statement: object) -> None:
    audit.record(session, DANA, audit.Action.SIGN_IN, now=T0)
    session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(statement)  # type: ignore[call-overload]
    session.rollback()
    assert [e.actor for e in audit.list_entries(session)] == [DANA.name]
