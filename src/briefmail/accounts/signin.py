"""Console sign-in, throttled per account and per client IP.

Attempts are counted in the database (`sign_in_attempts`), not in Redis or in the
process: the embedded default has no Redis, several web workers must share one
count, and a restart must not reset it. Only failures count: an account is refused
after `per_account` failures since its last success within `window`, a client IP
after `per_ip` failures within `window` (whatever accounts it tried). While
throttled, the password is not even checked, so a correct guess gains nothing.
Rows older than the window are deleted as new ones come.

Every refusal looks the same to the person ("wrong email or password"): an unknown
email costs as much time as a wrong password (`passwords.burn_verification`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from briefmail import clock
from briefmail.accounts import passwords
from briefmail.accounts.sessions import start_session
from briefmail.config import Settings
from briefmail.db.models import SignInAttempt, User

_MAX_EMAIL = 320


WINDOW = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class SignInLimits:
    per_account: int = 5
    per_ip: int = 20
    window: timedelta = WINDOW

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInLimits:
        return cls(settings.sign_in_max_failures, settings.sign_in_max_failures_per_ip)


@dataclass(frozen=True, slots=True)
class SignIn:
    """`ok` (with the user and the new session's cookie value), `wrong` or `throttled`."""

    outcome: Literal["ok", "wrong", "throttled"]
    user: User | None = None
    token: str | None = None
    retry_after: int = 0  # seconds, when throttled


def sign_in(
    session: Session,
    email: str,
    password: str,
    *,
    ip: str,
    user_agent: str,
    now: datetime,
    limits: SignInLimits,
) -> SignIn:
    """Check the password and open a session; the attempt is recorded either way.

    Returns rather than raises, so the caller commits the recorded attempt.
    """
    key = email.strip().lower()[:_MAX_EMAIL]
    ip = ip[:64]
    session.execute(delete(SignInAttempt).where(SignInAttempt.at < now - limits.window))
    wait = _throttled_for(session, key, ip, now, limits)
    if wait:
        return SignIn("throttled", retry_after=wait)
    user = session.scalars(select(User).where(User.email == key)).one_or_none()
    if user is None:
        passwords.burn_verification(password)
        matches, new_hash = False, None
    else:
        matches, new_hash = passwords.verify_password(password, user.password_hash)
    session.add(SignInAttempt(email=key, ip=ip, at=now, succeeded=matches))
    if not matches or user is None:
        session.flush()
        return SignIn("wrong")
    if new_hash is not None:
        user.password_hash = new_hash
    token = start_session(session, user, ip=ip, user_agent=user_agent, now=now)
    return SignIn("ok", user=user, token=token)


def _throttled_for(session: Session, key: str, ip: str, now: datetime, limits: SignInLimits) -> int:
    """Seconds until the account and the IP may try again (0: now)."""
    since = now - limits.window
    last_success = session.scalar(
        select(func.max(SignInAttempt.at)).where(
            SignInAttempt.email == key, SignInAttempt.succeeded.is_(True)
        )
    )
    account_since = max(since, clock.as_utc(last_success)) if last_success else since
    waits = [
        _wait(session, SignInAttempt.email == key, account_since, limits.per_account, now, limits),
        _wait(session, SignInAttempt.ip == ip, since, limits.per_ip, now, limits),
    ]
    return max(waits)


def _wait(
    session: Session,
    who: ColumnElement[bool],
    since: datetime,
    limit: int,
    now: datetime,
    limits: SignInLimits,
) -> int:
    failures = select(SignInAttempt.at).where(
        who,
        SignInAttempt.at > since,
        SignInAttempt.succeeded.is_(False),
    )
    count = session.scalar(select(func.count()).select_from(failures.subquery())) or 0
    if count < limit:
        return 0
    # Free again when the oldest failure that still counts leaves the window.
    oldest = session.scalar(failures.order_by(SignInAttempt.at.desc()).offset(limit - 1).limit(1))
    if oldest is None:  # pragma: no cover - counted above
        return 0
    return max(1, int((clock.as_utc(oldest) + limits.window - now).total_seconds()) + 1)
