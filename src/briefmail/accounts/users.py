"""Console users: one row per person, a role, an Argon2 password hash.

A role change or removal ends the person's console sessions at once, so nobody keeps
rights they no longer have until their cookie expires. The last admin can be neither
demoted nor removed: someone must always be able to manage people from the console
(the CLI can always add another).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from briefmail.accounts import passwords
from briefmail.accounts.roles import Role, parse_role
from briefmail.accounts.sessions import end_user_sessions
from briefmail.db.models import User
from briefmail.errors import InvalidInputError, NotFoundError, StateError

_MAX_EMAIL = 320
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def normalise_user_email(raw: str) -> str:
    """The sign-in name as stored: trimmed and lower-cased, shaped like an address."""
    email = raw.strip().lower()
    if not email:
        raise InvalidInputError("email: empty")
    if len(email) > _MAX_EMAIL or not _EMAIL.fullmatch(email) or not email.isprintable():
        raise InvalidInputError(f"email: {raw.strip()!r} is not an email address")
    return email


def find_user(session: Session, email: str) -> User | None:
    return session.scalars(
        select(User).where(User.email == normalise_user_email(email))
    ).one_or_none()


def get_user(session: Session, email: str) -> User:
    user = find_user(session, email)
    if user is None:
        raise NotFoundError(f"no user {email.strip()!r}")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)))


def check_new_user(session: Session, email: str, role: str) -> tuple[str, Role]:
    """The normalised address and role of a user that may be added; StateError when the
    email already has an account. Callable before asking anyone for a password."""
    address = normalise_user_email(email)
    checked: Role = parse_role(role)
    if find_user(session, address) is not None:
        raise StateError(f"user {address!r} already exists (change it with `users set-role`)")
    return address, checked


def add_user(session: Session, email: str, role: str, password: str, *, now: datetime) -> User:
    """A new user; StateError when the email already has an account."""
    address, checked = check_new_user(session, email, role)
    user = User(
        email=address,
        role=checked,
        password_hash=passwords.hash_password(password),
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    return user


def set_role(session: Session, email: str, role: str, *, now: datetime) -> User:
    """Change a user's role and end their sessions (they sign in again with the new one)."""
    user = get_user(session, email)
    checked: Role = parse_role(role)
    if user.role == checked:
        return user
    if user.role == "admin":
        _keep_an_admin(session, user, "demoted")
    user.role = checked
    user.updated_at = now
    end_user_sessions(session, user.id, now=now)
    session.flush()
    return user


def remove_user(session: Session, email: str) -> User:
    """Delete the user (their sessions go with them; the audit log keeps their name)."""
    user = get_user(session, email)
    if user.role == "admin":
        _keep_an_admin(session, user, "removed")
    session.delete(user)
    session.flush()
    return user


def _keep_an_admin(session: Session, user: User, change: str) -> None:
    admins = session.scalar(select(func.count()).select_from(User).where(User.role == "admin"))
    if (admins or 0) <= 1:
        raise StateError(
            f"{user.email} is the last admin and cannot be {change}: make someone else "
            "an admin first"
        )
