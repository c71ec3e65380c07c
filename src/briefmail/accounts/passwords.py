"""Argon2id password hashes (pwdlib), with rehashing when the parameters change."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from briefmail.errors import InvalidInputError

MIN_LENGTH = 12
# Argon2 takes any length, but hashing megabytes per guess is a cheap denial of service.
MAX_LENGTH = 1024


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(),))


def check_password(password: str) -> None:
    """Refuse passwords too short to resist guessing, or absurdly long."""
    if len(password) < MIN_LENGTH:
        raise InvalidInputError(f"password: at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInputError(f"password: at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_password(password)
    return _hasher().hash(password)


def verify_password(password: str, hashed: str) -> tuple[bool, str | None]:
    """(matches, a new hash to store when the stored one uses old parameters)."""
    if len(password) > MAX_LENGTH:
        return False, None
    return _hasher().verify_and_update(password, hashed)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("no such account: this hash only costs time")


def burn_verification(password: str) -> None:
    """Spend what a real verification costs, so an unknown email takes as long as a
    wrong password and timing does not tell which accounts exist."""
    verify_password(password[:MAX_LENGTH], _dummy_hash())
