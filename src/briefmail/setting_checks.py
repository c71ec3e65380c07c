"""What makes a setting's value usable, checked when a process starts.

Each check takes the value, returns it (perhaps normalised) or raises ValueError with
what is wrong; `config.Settings` runs them as validators and names the variable, so a
bad value stops the CLI, the web app and the workers with one line instead of failing
the first send, render or connection that needs it. Messages never repeat a password.
"""

from __future__ import annotations

import math
from email.headerregistry import Address, HeaderRegistry
from urllib.parse import SplitResult, urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from briefmail.characters import problem as character_problem
from briefmail.language import language_tag_problem

MAX_SECONDS = 366 * 24 * 3600
DATABASE_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg")
DATABASE_EXAMPLES = "sqlite:///briefmail.db or postgresql://user:password@host:5432/briefmail"

_headers = HeaderRegistry()


def text(value: str) -> str:
    why = character_problem(value)
    if why:
        raise ValueError(why)
    return value


def seconds(value: float) -> float:
    if not math.isfinite(value) or value > MAX_SECONDS:
        raise ValueError(f"must be a finite number of seconds, at most {MAX_SECONDS} (366 days)")
    return value


def language(value: str) -> str:
    why = language_tag_problem(value)
    if why:
        raise ValueError(why)
    return value


def database_url(value: str) -> str:
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ValueError(f"is not a database URL (e.g. {DATABASE_EXAMPLES})") from None
    if url.drivername == "postgres":
        raise ValueError("write postgresql:// (SQLAlchemy does not accept postgres://)")
    if url.drivername not in DATABASE_DRIVERS:
        raise ValueError(
            f"{url.drivername} is not supported: briefmail runs on SQLite or PostgreSQL "
            f"(e.g. {DATABASE_EXAMPLES})"
        )
    return value


def redis_url(value: str) -> str:
    """A Redis URL, or empty (unset)."""
    if value:
        parts = _server_url(value, ("redis", "rediss"), "redis://host:6379/0")
        if not parts.path.strip("/").isdigit() and parts.path not in ("", "/"):
            raise ValueError("its path must be a database number such as /0")
    return value


def smtp_url(value: str) -> str:
    _server_url(value, ("smtp", "smtps"), "smtp://host:port or smtps://user:password@host:465")
    return value


def web_url(value: str) -> str:
    """An http(s) base URL that paths are appended to."""
    parts = _server_url(value, ("http", "https"), "https://host")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment (paths are appended to it)")
    return value


def _server_url(value: str, schemes: tuple[str, ...], example: str) -> SplitResult:
    shown = f"URL starting {' or '.join(f'{s}://' for s in schemes)} (e.g. {example})"
    if any(c.isspace() for c in value):
        raise ValueError(f"must be a {shown} without spaces")
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError when it is not 0-65535
    except ValueError:
        raise ValueError(f"must be a {shown}; its port is not a number from 1 to 65535") from None
    if parts.scheme.lower() not in schemes or not parts.hostname:
        raise ValueError(f"must be a {shown}")
    if port == 0:
        raise ValueError(f"must be a {shown}; port 0 is not a port to connect to")
    return parts


def mailbox(value: str) -> str:
    """One address, with or without a display name: `Name <user@example.org>`."""
    addresses = _addresses(value, "an address such as 'Brief <brief@example.org>'")
    if len(addresses) != 1:
        raise ValueError(f"must be one address, not {len(addresses)}")
    return value


def mailboxes(value: str) -> str:
    """Empty, or one or more comma-separated addresses."""
    if value:
        _addresses(value, "addresses such as 'Editors <editors@example.org>'")
    return value


def mailto(value: str) -> str:
    """An address for List-Unsubscribe, written plain or as a mailto: URL."""
    address = value.removeprefix("mailto:").split("?", 1)[0]
    if "<" in address or len(_addresses(address, "an address such as a@example.org")) != 1:
        raise ValueError("must be one plain address such as unsubscribe@example.org")
    return value


def _addresses(value: str, expected: str) -> tuple[Address, ...]:
    # Python's email package splits a header at any of str.splitlines()'s breaks (U+2028
    # too) and refuses it: so must we, or every message fails to build.
    if "\t" in value or value.splitlines() != [value]:
        raise ValueError("must be on one line (it becomes a mail header)")
    header = _headers("To", value)
    addresses = tuple(header.addresses)  # type: ignore[attr-defined]
    if header.defects or not addresses:
        raise ValueError(f"must be {expected}")
    for address in addresses:
        if not address.username or "." not in address.domain.strip("."):
            raise ValueError(f"{address.addr_spec!r} is not a full address (user@example.org)")
    return addresses
