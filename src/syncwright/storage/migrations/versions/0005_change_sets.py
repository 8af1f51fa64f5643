"""change sets and snapshots as compressed Arrow records: run_batches, snapshot_parts

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "snapshot_parts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("sync_id", sa.String(length=36), nullable=False),
        sa.Column("base", sa.Boolean(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshot_parts")),
    )
    op.create_index("ix_snapshot_parts_sync_id", "snapshot_parts", ["sync_id", "id"])
    op.create_table(
        "run_batches",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("batch", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_batches_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "batch", name=op.f("pk_run_batches")),
    )


def downgrade() -> None:
    op.drop_table("run_batches")
    op.drop_index("ix_snapshot_parts_sync_id", table_name="snapshot_parts")
    op.drop_table("snapshot_parts")
