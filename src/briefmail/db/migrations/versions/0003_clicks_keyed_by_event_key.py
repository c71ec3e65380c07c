"""clicks: keyed by the event key; no surrogate id, no index on subscriber_id

Clicks are written at redirect rates. The surrogate id (a sequence per row and a
primary-key index beside the unique event key) and an index on subscriber_id that no
query uses cost about a third of PostgreSQL's time per stored click, measured with
bench/redirect.py. The event key, unique already, becomes the primary key.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 22:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clicks_subscriber_id"))
        batch_op.drop_constraint(batch_op.f("uq_clicks_event_key"), type_="unique")
        batch_op.drop_constraint(batch_op.f("pk_clicks"), type_="primary")
        batch_op.drop_column("id")
        batch_op.create_primary_key(batch_op.f("pk_clicks"), ["event_key"])


def downgrade() -> None:
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("pk_clicks"), type_="primary")
        batch_op.create_unique_constraint(batch_op.f("uq_clicks_event_key"), ["event_key"])
        batch_op.create_index(
            batch_op.f("ix_clicks_subscriber_id"), ["subscriber_id"], unique=False
        )
    # A surrogate id again, numbered in the order the rows were stored.
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("clicks", sa.Column("id", _ID, sa.Identity(), nullable=False))
    else:
        op.add_column("clicks", sa.Column("id", _ID, nullable=True))
        op.execute("UPDATE clicks SET id = rowid")
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.alter_column("id", nullable=False, existing_type=_ID)
        batch_op.create_primary_key(batch_op.f("pk_clicks"), ["id"])
