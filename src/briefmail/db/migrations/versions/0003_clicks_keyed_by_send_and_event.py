"""clicks: one index, the key (send_id, event_key), and no foreign key

Clicks are written at redirect rates. Measured with bench/redirect.py, PostgreSQL spent
two thirds of its time per stored click checking the foreign key to sends, and most
of the rest on a surrogate id (a sequence and a primary-key index beside the unique
event key) and indexes no query needs (subscriber_id; (send_id, link_id)). The key
(send_id, event_key) serves what is read (one send's clicks) and idempotency (a click
stored twice); the send exists by construction (the redirect found the destination
among its links) and sends are never deleted.

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
        batch_op.drop_index("ix_clicks_send_id_link_id")
        batch_op.drop_constraint(batch_op.f("fk_clicks_send_id_sends"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_clicks_event_key"), type_="unique")
        batch_op.drop_constraint(batch_op.f("pk_clicks"), type_="primary")
        batch_op.drop_column("id")
        batch_op.create_primary_key(batch_op.f("pk_clicks"), ["send_id", "event_key"])


def downgrade() -> None:
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("pk_clicks"), type_="primary")
        batch_op.create_unique_constraint(batch_op.f("uq_clicks_event_key"), ["event_key"])
        batch_op.create_index("ix_clicks_send_id_link_id", ["send_id", "link_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_clicks_send_id_sends"), "sends", ["send_id"], ["id"], ondelete="CASCADE"
        )
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
