"""planned runs: when a scheduled run is due, one planned run per sync and trigger; webhooks; workers

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="5", nullable=False))
        batch_op.add_column(sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_runs_status_scheduled", ["status", "scheduled_for"], unique=False)
    with op.batch_alter_table("destinations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_runs", sa.Integer(), nullable=True))
    # Runs queued before admission existed were handed to the engine already.
    op.execute("UPDATE runs SET admitted_at = created_at WHERE status <> 'scheduled'")
    op.create_index(
        "uq_runs_planned",
        "runs",
        ["sync_id", "trigger"],
        unique=True,
        sqlite_where=sa.text("status = 'scheduled'"),
        postgresql_where=sa.text("status = 'scheduled'"),
    )

    op.create_table(
        "webhooks",
        sa.Column("sync_id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["sync_id"], ["syncs.id"], name=op.f("fk_webhooks_sync_id_syncs")),
        sa.PrimaryKeyConstraint("sync_id", name=op.f("pk_webhooks")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_webhooks_token_hash")),
    )
    op.create_table(
        "workers",
        sa.Column("executor_id", sa.String(length=200), nullable=False),
        sa.Column("runner", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("executor_id", name=op.f("pk_workers")),
    )


def downgrade() -> None:
    op.drop_table("workers")
    op.drop_table("webhooks")
    op.drop_index("uq_runs_planned", table_name="runs")
    with op.batch_alter_table("destinations", schema=None) as batch_op:
        batch_op.drop_column("max_runs")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_status_scheduled")
        batch_op.drop_column("admitted_at")
        batch_op.drop_column("priority")
        batch_op.drop_column("scheduled_for")
