"""API tokens: a name, scopes, and only the SHA-256 of the token stored.

A token is `bm_` and 256 random bits, shown once when created; a fast hash is enough
for a value that random (there is nothing to guess), and it lets every request find
its token by one indexed lookup. `last_used_at` is written at most once per
`TOUCH_EVERY`, so a busy client does not write a row per request. A revoked token
keeps its row (for the record) and frees its name.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.db.models import ApiToken
from briefmail.errors import InvalidInputError, NotFoundError, StateError

Scope = Literal["read", "briefs:write", "sends:write", "subscribers:write"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
PREFIX = "bm_"
TOUCH_EVERY = timedelta(minutes=1)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_MAX_TOKEN = 200


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_scopes(scopes: Iterable[str]) -> list[Scope]:
    """The scopes named (in the canonical order, no repeats); InvalidInputError otherwise."""
    wanted = {s.strip() for s in scopes if s.strip()}
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise InvalidInputError(
            f"scopes: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not a scope "
            f"({', '.join(SCOPES)})"
        )
    if not wanted:
        raise InvalidInputError(f"scopes: give at least one of {', '.join(SCOPES)}")
    return [scope for scope in SCOPES if scope in wanted]


def check_name(name: str) -> str:
    value = name.strip()
    if not _NAME.fullmatch(value):
        raise InvalidInputError(
            f"name: {name!r} must be 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def create_token(
    session: Session, name: str, scopes: Iterable[str], *, now: datetime, by: str
) -> tuple[str, ApiToken]:
    """A new token; returns (the token, its row). StateError if a live token has the name."""
    checked = check_name(name)
    granted = parse_scopes(scopes)
    if find_live(session, checked) is not None:
        raise StateError(f"a token named {checked!r} exists: revoke it or choose another name")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=checked,
        token_hash=token_hash(token),
        scopes=list(granted),
        created_by=by[:320],
        created_at=now,
    )
    session.add(row)
    session.flush()
    return token, row


def find_live(session: Session, name: str) -> ApiToken | None:
    return session.scalars(
        select(ApiToken).where(ApiToken.name == name.strip(), ApiToken.revoked_at.is_(None))
    ).one_or_none()


def authenticate(session: Session, token: str, *, now: datetime) -> ApiToken | None:
    """The live token `token` names (its use noted), or None: unknown, malformed, revoked."""
    if not token.startswith(PREFIX) or len(token) > _MAX_TOKEN:
        return None
    row = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == token_hash(token))
    ).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if row.last_used_at is None or now - clock.as_utc(row.last_used_at) >= TOUCH_EVERY:
        row.last_used_at = now
        session.flush()
    return row


def has_scope(row: ApiToken, scope: Scope) -> bool:
    return scope in row.scopes


def revoke_token(session: Session, name: str, *, now: datetime) -> ApiToken:
    """Revoke the live token `name`: every request with it is refused from now on."""
    row = find_live(session, name)
    if row is None:
        raise NotFoundError(f"no live token named {name.strip()!r}")
    row.revoked_at = now
    session.flush()
    return row


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, live and revoked, oldest first."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))
