"""The audit log: who did what to what, when and from where; append-only.

Every face records its actions here with one vocabulary (`Action`), so the console's
audit page and `briefmail audit list` read one history whatever did the deed: a
person in the console (`user`), an API token (`token`) or someone at a shell
(`cli`, named by their OS user). Nothing in briefmail updates or deletes a row, and
the database refuses to (triggers from migration 0006).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from briefmail.db.models import AuditEntry

ActorKind = Literal["user", "token", "cli"]
CLI_SOURCE = "cli"


class Action(StrEnum):
    SIGN_IN = "session.sign-in"
    SIGN_OUT = "session.sign-out"
    SIGN_IN_REFUSED = "session.sign-in-refused"  # a wrong email or password (not throttled)
    BRIEF_IMPORT = "brief.import"
    BRIEF_APPROVE = "brief.approve"
    SEND_CREATE = "send.create"
    SEND_PROOF = "send.proof"
    SEND_CANCEL = "send.cancel"
    BATCH_RESOLVE = "batch.resolve"
    SCHEDULE_SET = "schedule.set"
    SUBSCRIBER_ADD = "subscriber.add"
    SUBSCRIBER_UPDATE = "subscriber.update"
    SUBSCRIBER_UNSUBSCRIBE = "subscriber.unsubscribe"
    SUBSCRIBER_SUPPRESS = "subscriber.suppress"
    SUBSCRIBERS_IMPORT = "subscribers.import"
    SUBSCRIBERS_EXPORT = "subscribers.export"
    USER_ADD = "user.add"
    USER_SET_ROLE = "user.set-role"
    USER_REMOVE = "user.remove"
    TOKEN_CREATE = "api-token.create"  # noqa: S105 - an action name
    TOKEN_REVOKE = "api-token.revoke"  # noqa: S105 - an action name


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts and from where: a user's email, a token's name or the OS user; an IP or
    "cli"."""

    kind: ActorKind
    name: str
    source: str

    @classmethod
    def cli(cls, os_user: str) -> Actor:
        return cls("cli", os_user or "unknown", CLI_SOURCE)


def record(
    session: Session,
    actor: Actor,
    action: Action,
    target: str = "",
    *,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry, in the caller's transaction: it commits with the action or not
    at all."""
    entry = AuditEntry(
        at=now,
        actor_kind=actor.kind,
        actor=actor.name[:320],
        action=action.value,
        target=target[:400],
        source=actor.source[:64],
        detail=detail,
    )
    session.add(entry)
    session.flush()
    return entry


def list_entries(
    session: Session,
    *,
    limit: int = 100,
    before: int | None = None,
    actor: str | None = None,
    action: str | None = None,
) -> list[AuditEntry]:
    """Newest first; `before` (an entry id) pages back through older ones."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query))
