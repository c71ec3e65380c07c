"""Rows of the `clicks` table: the bulk insert of a classified batch, and re-marking
stored clicks that a later burst includes.

Batches arrive at redirect rates, so the insert is the bulk path of each database
(`db.dialect.bulk_insert_ignoring`: binary COPY on PostgreSQL, executemany on SQLite).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, update
from sqlalchemy.orm import Session
from sqlalchemy.types import Text

from briefmail.db.dialect import bulk_insert_ignoring, member_of
from briefmail.db.models import Click
from briefmail.tracking.classifier import Reason

COLUMNS = (
    "event_key", "send_id", "link_id", "subscriber_id", "clicked_at",
    "method", "ip", "user_agent", "automated", "reason",
)  # fmt: skip
# PostgreSQL types of `COLUMNS`, for binary COPY.
_COPY_TYPES = (
    "text", "int8", "int4", "int8", "timestamptz", "text", "text", "text", "bool", "text",
)  # fmt: skip
CLICKS = cast(Table, Click.__table__)


def insert_clicks(session: Session, rows: list[tuple[Any, ...]]) -> int:
    """Insert `rows` (values in `COLUMNS` order) unless their key is stored; how many new."""
    return bulk_insert_ignoring(session, CLICKS, COLUMNS, rows, copy_types=_COPY_TYPES)


def mark_burst(session: Session, clicks: set[tuple[int, str]]) -> None:
    """Re-mark stored human clicks, given as (send id, event key), as part of a burst."""
    if not clicks:
        return
    sends = sorted({send_id for send_id, _ in clicks})
    keys = sorted(key for _, key in clicks)
    session.execute(
        update(Click)
        .where(member_of(session, Click.send_id, sends))  # the key's first column
        .where(member_of(session, Click.event_key, keys, Text()))
        .where(Click.automated.is_(False))
        .values(automated=True, reason=Reason.BURST.value)
    )
