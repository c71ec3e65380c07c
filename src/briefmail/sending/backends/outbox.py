"""The default backend: one personalised .eml per recipient in a folder.

A file is named by its delivery id and written to a temporary name first, then
renamed into place (atomic on POSIX), so a reader never sees half a message and a
retry overwrites instead of adding a second copy: for this backend a resend can
never duplicate, which is also how a crashed batch is settled (the files tell).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from briefmail.sending.backends.base import (
    BatchResult,
    EmailBackend,
    OrphanOutcome,
    OutgoingBatch,
    TransientError,
)
from briefmail.sending.backends.mime import personal_message


class OutboxBackend(EmailBackend):
    name = "outbox"

    def __init__(self, directory: Path, *, unsubscribe_mailto: str = "") -> None:
        self.directory = Path(directory)
        self.unsubscribe_mailto = unsubscribe_mailto

    def path_for(self, send_id: int, delivery_id: int) -> Path:
        return self.directory / f"send-{send_id}" / f"{delivery_id}.eml"

    def send_batch(self, batch: OutgoingBatch) -> BatchResult:
        folder = self.directory / f"send-{batch.send_id}"
        written: set[int] = set()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for r in batch.recipients:
                message = personal_message(batch, r, self.unsubscribe_mailto)
                _write_atomically(self.path_for(batch.send_id, r.delivery_id), message.as_bytes())
                written.add(r.delivery_id)
        except OSError as exc:
            raise TransientError(
                f"outbox: cannot write to {folder}: {exc}", accepted=frozenset(written)
            ) from exc
        return BatchResult(provider_message_id=f"outbox:{folder}")

    def orphan_outcome(self, send_id: int, delivery_ids: Sequence[int]) -> OrphanOutcome:
        if delivery_ids and all(self.path_for(send_id, d).exists() for d in delivery_ids):
            return OrphanOutcome.SENT
        return OrphanOutcome.NOT_SENT  # rewriting overwrites: nothing can be doubled


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
