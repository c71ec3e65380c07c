"""The settings check of entry points that are not the `briefmail` command.

`celery -A worker.app worker|beat` imports the Celery app directly (docker-compose
runs it so), so no CLI `main` is there to turn a bad setting into one line: this does,
with the CLI's wording and exit status, instead of a traceback through Celery's loader.
"""

from __future__ import annotations

import sys

from briefmail.config import Settings, get_settings
from briefmail.errors import ConfigError


def settings_or_exit() -> Settings:
    """The settings; on a bad value, one line per bad variable on stderr and exit 2. The
    signing key is checked too: a worker signs every link a subscriber gets."""
    try:
        settings = get_settings()
        settings.signing_keys()
        return settings
    except ConfigError as exc:
        print(f"briefmail: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
