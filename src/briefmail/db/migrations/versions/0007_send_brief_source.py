"""sends.brief_source: the brief's text each send rendered

The public archive shows a brief as it went out. A brief edited after its send goes
back to draft with new text, and that text must not reach the archive unapproved and
unsent; so a send keeps the text it rendered. Sends already started get their brief's
current text: the best record there is of what they sent.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sends", schema=None) as batch_op:
        batch_op.add_column(sa.Column("brief_source", sa.Text(), nullable=True))
    op.execute(
        "UPDATE sends SET brief_source ="
        " (SELECT source FROM briefs WHERE briefs.id = sends.brief_id)"
        " WHERE html_template IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("sends", schema=None) as batch_op:
        batch_op.drop_column("brief_source")
