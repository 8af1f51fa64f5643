"""snapshot parts carry a token of their own: a part's number alone can come again (a SQLite
row id after the newest rows were deleted, a sequence after a restore), and a worker's copy
of the snapshot tells the parts it took in by number, size and token

Parts written before have no token; downgrading drops the tokens.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("snapshot_parts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("snapshot_parts", schema=None) as batch_op:
        batch_op.drop_column("token")
