"""Who claimed a batch, and whether that process is provably gone.

A claim records `host:pid:start` (start = the process start time from /proc), so a
worker on the same host can tell a dead owner at once, even if the pid was reused,
instead of waiting out the lease. Owners on other hosts are judged by the lease only.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache


def _start_ticks(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; the start time is field 22.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


@lru_cache(maxsize=8)
def _identity(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid) or '-'}"


def current_owner() -> str:
    """This process's identity (recomputed after fork: the pid changes)."""
    return _identity(os.getpid())


def is_dead(owner: str | None) -> bool:
    """True only when `owner` ran on this host and that process no longer exists."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if start and start != "-":
        return _start_ticks(pid) != start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
