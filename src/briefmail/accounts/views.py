"""Users, tokens and audit entries as JSON: one model each, for `--json`, the API and
the console alike."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from briefmail import clock
from briefmail.db.models import ApiToken, AuditEntry, User


def _utc(value: datetime | None) -> datetime | None:
    return clock.as_utc(value) if value is not None else None


class UserOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    email: str
    role: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            email=user.email,
            role=user.role,
            created_at=clock.as_utc(user.created_at),
            updated_at=clock.as_utc(user.updated_at),
        )


class TokenOut(BaseModel):
    """A token as listed: never the token itself, which exists only when created."""

    model_config = ConfigDict(frozen=True)

    name: str
    scopes: list[str]
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiToken) -> TokenOut:
        return cls(
            name=row.name,
            scopes=list(row.scopes),
            created_by=row.created_by,
            created_at=clock.as_utc(row.created_at),
            last_used_at=_utc(row.last_used_at),
            revoked_at=_utc(row.revoked_at),
        )


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    at: datetime
    actor_kind: str
    actor: str
    action: str
    target: str
    source: str
    detail: dict[str, Any] | None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls(
            id=entry.id,
            at=clock.as_utc(entry.at),
            actor_kind=entry.actor_kind,
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            source=entry.source,
            detail=entry.detail,
        )
