"""Clicks kept on local disk when a graceful stop cannot store them.

The web process owns every answered click until the database (or the Redis stream)
says stored; a graceful stop retries for a while. If the store is still down when that
time is up, the clicks are written here instead of being dropped, and the next start of
the web app takes them back into its buffer first. A file is written whole (a temporary
name, fsync, rename) and removed only once its clicks are back in a buffer, so a crash
at any point leaves either the file or the clicks in a process that will spool them
again. Reading a file twice (two workers starting at once) only repeats clicks with the
same event keys, which the store drops as duplicates.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import orjson

from briefmail.tracking.clicks import RawClick

log = logging.getLogger(__name__)
_PATTERN = "clicks-*.jsonl"


class ClickSpool:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def save(self, clicks: Sequence[RawClick]) -> Path:
        """Write `clicks` to a new spool file; OSError if the disk refuses."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"clicks-{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        final = self.folder / name
        partial = self.folder / f".{name}.partial"
        with partial.open("wb") as out:
            for click in clicks:
                out.write(orjson.dumps(tuple(click)))
                out.write(b"\n")
            out.flush()
            os.fsync(out.fileno())
        partial.rename(final)
        return final

    def take(self) -> list[RawClick]:
        """Every spooled click, oldest file first; each file is removed once read.
        A line that is not a click is logged with its file and line and skipped."""
        if not self.folder.is_dir():
            return []
        clicks: list[RawClick] = []
        for path in sorted(self.folder.glob(_PATTERN)):
            try:
                lines = path.read_bytes().splitlines()
            except FileNotFoundError:  # another worker took it
                continue
            for number, line in enumerate(lines, 1):
                try:
                    clicks.append(RawClick.from_row(orjson.loads(line)))
                except ValueError as exc:  # orjson.JSONDecodeError is one
                    log.warning("click spool: %s line %d skipped: %s", path, number, exc)
            path.unlink(missing_ok=True)
        return clicks
