"""Database access: models, engines and sessions, migrations."""

from briefmail.db.session import get_engine, session_scope, upgrade

__all__ = ["get_engine", "session_scope", "upgrade"]
