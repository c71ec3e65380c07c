"""batches.earlier_attempt_keys: the keys of a batch's earlier attempts

Provider events carry the attempt key they were sent with. Keeping the earlier keys
lets the ledger tell an event of an earlier attempt of this batch (that request went
out: never send the batch again) from one that merely names the batch.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("earlier_attempt_keys", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_column("earlier_attempt_keys")
