"""What makes a signing key acceptable, and the development key file.

Every public link is an HMAC made with these keys; whoever knows one can forge click,
unsubscribe and preference links. So a key anyone could know is refused before
anything is signed: the placeholder `.env.example` ships with, and anything shorter
than `MIN_KEY_BYTES` (HMAC-SHA256's own block of randomness). Errors name the setting
and never repeat the key.

The development key file lets the SQLite demo run with no configuration. It is
written atomically: random bytes go to a private temporary file (mode 0600) that is
then hard-linked into place, which, unlike a rename, never replaces a file another
process published first; so processes starting at the same moment all read the one
key, never an empty or half-written file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import uuid
from pathlib import Path

from briefmail.errors import ConfigError

log = logging.getLogger(__name__)

MIN_KEY_BYTES = 32
PLACEHOLDER = "change-me-to-a-long-random-string"  # the value in .env.example
_HOW = "make one with `openssl rand -base64 48`"


def check_key(key: str, setting: str, *, where: str = "") -> bytes:
    """The key's bytes, or ConfigError naming `setting` when it is guessable."""
    place = f"{setting}: {where} holds" if where else f"{setting}: holds"
    if key == PLACEHOLDER or key.lower().startswith("change-me"):
        raise ConfigError(f"{place} the placeholder from .env.example; {_HOW}")
    size = len(key.encode())
    if size < MIN_KEY_BYTES:
        raise ConfigError(
            f"{place} a key of {size} bytes; at least {MIN_KEY_BYTES} are needed; {_HOW}"
        )
    return key.encode()


def development_key(path: Path) -> bytes:
    """The key in `path`, created first if there is none; ConfigError if unusable."""
    setting = "BRIEFMAIL_SECRET_KEY_FILE"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = _create(path, setting)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{setting}: cannot read {path}: {_reason(exc)}") from None
    key = text.strip()
    if not key:
        raise ConfigError(f"{setting}: {path} holds no key; delete it to generate a new one")
    return check_key(key, setting, where=str(path))


def _create(path: Path, setting: str) -> str:
    """Publish a new key at `path` (or read the one another process published first)."""
    key = secrets.token_urlsafe(48)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return path.read_text(encoding="utf-8")  # another process was first: use its key
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot create {path}: {_reason(exc)}") from None
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()
    log.warning(
        "generated a development signing key in %s (SQLite only; set BRIEFMAIL_SECRET_KEY "
        "for anything else)",
        path,
    )
    return key


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
