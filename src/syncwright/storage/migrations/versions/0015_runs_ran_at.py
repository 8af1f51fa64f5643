"""runs carry when they ran (started, else scheduled, else created), which every list of runs
is ordered and chosen by: a run planned for later or queued long ago is not "the last run"

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ran_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE runs SET ran_at = COALESCE(started_at, scheduled_for, created_at)")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.alter_column("ran_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index("ix_runs_workspace_ran", ["workspace_id", "ran_at"], unique=False)
        batch_op.create_index("ix_runs_sync_ran", ["sync_id", "ran_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_sync_ran")
        batch_op.drop_index("ix_runs_workspace_ran")
        batch_op.drop_column("ran_at")
