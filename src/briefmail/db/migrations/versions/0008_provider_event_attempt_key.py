"""provider_events.attempt_key: the attempt an event reports, as a column

The ledger proves a batch's request went out by the provider events of its attempts.
Reading the attempt key out of every stored payload of a batch meant parsing JSON on
every check; a column, indexed with the batch, makes it one indexed query. The
(batch_id, attempt_key) index starts with batch_id, so the index on batch_id alone
goes.

Events stored before this revision get their key from their payload, read in Python
(the same on SQLite and PostgreSQL, whose JSON operators differ) in chunks of ids, so
a large table is never held in memory at once.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CHUNK = 1000
KEY_CHARS = 64  # models.ATTEMPT_KEY_CHARS when this revision was written

events = sa.table(
    "provider_events",
    sa.column("id", sa.BigInteger()),
    sa.column("payload", sa.JSON()),
    sa.column("attempt_key", sa.String(KEY_CHARS)),
)


def upgrade() -> None:
    with op.batch_alter_table("provider_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempt_key", sa.String(length=KEY_CHARS), nullable=True))
        batch_op.drop_index(batch_op.f("ix_provider_events_batch_id"))
        batch_op.create_index(
            "ix_provider_events_batch_id_attempt_key", ["batch_id", "attempt_key"], unique=False
        )
    backfill(op.get_bind())


def backfill(connection: sa.Connection) -> None:
    """Sets each stored event's attempt key from its payload, a chunk of ids at a time."""
    last = 0
    while True:
        rows = connection.execute(
            sa.select(events.c.id, events.c.payload)
            .where(events.c.id > last)
            .order_by(events.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        last = rows[-1].id
        keyed = [
            {"event_id": row.id, "key": key}
            for row in rows
            if (key := _attempt_key(row.payload)) is not None
        ]
        if keyed:
            connection.execute(
                events.update()
                .where(events.c.id == sa.bindparam("event_id"))
                .values(attempt_key=sa.bindparam("key")),
                keyed,
            )


def _attempt_key(payload: Any) -> str | None:
    """The rule of `tracking.sendgrid_events` as it stood here, frozen with the schema:
    custom_args merged into the event, or nested under `custom_args` by some relays."""
    if not isinstance(payload, Mapping):
        return None
    nested = payload.get("custom_args")
    args = nested if isinstance(nested, Mapping) else payload
    value = args.get("attempt_key")
    key = str(value) if value else None
    return key if key and len(key) <= KEY_CHARS else None


def downgrade() -> None:
    with op.batch_alter_table("provider_events", schema=None) as batch_op:
        batch_op.drop_index("ix_provider_events_batch_id_attempt_key")
        batch_op.create_index(batch_op.f("ix_provider_events_batch_id"), ["batch_id"], unique=False)
        batch_op.drop_column("attempt_key")
