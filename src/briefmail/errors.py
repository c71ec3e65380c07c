"""The error tree.

Domain code raises these; only the CLI and the web layer turn them into exit codes
and HTTP answers. Leaf errors also inherit a standard type where one fits, so callers
that only know the standard library can still catch them.
"""

from __future__ import annotations


class BriefmailError(Exception):
    """Root of every error briefmail raises on purpose."""


class ConfigError(BriefmailError):
    """A setting is missing or malformed; names the `BRIEFMAIL_*` variable."""


class NotFoundError(BriefmailError, LookupError):
    """A brief, send, subscriber or topic the caller named does not exist."""


class InvalidInputError(BriefmailError, ValueError):
    """Input from a person (a file, an argument, a form) is wrong; the message says where."""


class StateError(BriefmailError):
    """The operation is not allowed in the object's current state (e.g. sending a draft)."""


class DatabaseError(BriefmailError):
    """The configured database cannot be used; the message says what to do about it."""


class DatabaseUnavailableError(DatabaseError):
    """The database cannot be reached (down, wrong host or port, refused credentials)."""


class DatabaseNotMigratedError(DatabaseError):
    """The database's schema is not the one this code needs (`briefmail db upgrade`)."""
