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
    # Added NOT NULL with a default, then filled, without batch mode: SQLite adds such a
    # column in place (copying the table instead would delete the rows that refer to runs).
    op.add_column(
        "runs",
        sa.Column(
            "ran_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("'1970-01-01 00:00:00'"),
        ),
    )
    op.execute("UPDATE runs SET ran_at = COALESCE(started_at, scheduled_for, created_at)")
    op.create_index("ix_runs_workspace_ran", "runs", ["workspace_id", "ran_at"], unique=False)
    op.create_index("ix_runs_sync_ran", "runs", ["sync_id", "ran_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_runs_sync_ran", table_name="runs")
    op.drop_index("ix_runs_workspace_ran", table_name="runs")
    op.drop_column("runs", "ran_at")  # SQLite 3.35 and later drop a column in place
