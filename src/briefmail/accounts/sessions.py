"""Console sessions: a row per signed-in browser, found by the hash of its cookie.

The cookie holds a random 256-bit value; the database holds only its SHA-256, so a
copy of the table cannot be replayed as cookies (a slow hash buys nothing for a
value this random). A session ends on sign-out, on a role change or removal of its
user, or after `idle` without a request; `last_seen_at` is written at most once per
`TOUCH_EVERY`, so a busy page does not write a row per request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.db.models import ConsoleSession, User

TOUCH_EVERY = timedelta(minutes=1)
_MAX_USER_AGENT = 300


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(token: str) -> str:
    """The CSRF token of the session whose cookie is `token`: derived, so nothing more
    is stored, and unknowable without the cookie (nor from the stored hash)."""
    return hashlib.sha256(b"briefmail-csrf\x00" + token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ActiveSession:
    row: ConsoleSession
    user: User


def start_session(session: Session, user: User, *, ip: str, user_agent: str, now: datetime) -> str:
    """Open a session for `user`; returns the cookie value (shown once, never stored)."""
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_hash=token_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            ip=ip[:64] or None,
            user_agent=user_agent[:_MAX_USER_AGENT] or None,
        )
    )
    session.flush()
    return token


def resume_session(
    session: Session, token: str, *, now: datetime, idle: timedelta, touch: bool = True
) -> ActiveSession | None:
    """The live session whose cookie is `token`, touched; None if unknown, ended or idle.

    `touch=False` for a request a page makes by itself (a progress poll): it is not a
    person's activity, so it must not keep an open tab signed in for ever."""
    if not token:
        return None
    row = session.scalars(
        select(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token))
    ).one_or_none()
    if row is None or row.ended_at is not None:
        return None
    last_seen = clock.as_utc(row.last_seen_at)
    if now - last_seen > idle:
        row.ended_at = last_seen + idle
        session.flush()
        return None
    if touch and now - last_seen >= TOUCH_EVERY:
        row.last_seen_at = now
        session.flush()
    return ActiveSession(row, row.user)


def end_session(session: Session, token: str, *, now: datetime) -> None:
    """Sign out: the cookie `token` no longer opens anything."""
    session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.token_hash == token_hash(token), ConsoleSession.ended_at.is_(None))
        .values(ended_at=now)
    )


def end_user_sessions(session: Session, user_id: int, *, now: datetime) -> int:
    """End every live session of a user (role change); returns how many were open."""
    result = session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
