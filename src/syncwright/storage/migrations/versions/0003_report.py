"""the sync report: links between attempts, error groups, open failures, resyncs, retention

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_OLD_INDEXES = {
    "ix_entries_run_seq": ["run_id", "seq"],
    "ix_entries_sync_reference": ["sync_id", "reference"],
    "ix_entries_workspace_created": ["workspace_id", "created_at"],
}
_NEW_INDEXES = {
    "ix_entries_run_status_seq": ["run_id", "status", "seq"],
    "ix_entries_run_id": ["run_id", "id"],
    "ix_entries_sync_id": ["sync_id", "id"],
    "ix_entries_sync_status_id": ["sync_id", "status", "id"],
    "ix_entries_sync_item_id": ["sync_id", "item_key", "id"],
    "ix_entries_workspace_status_id": ["workspace_id", "status", "id"],
    "ix_entries_workspace_reference_id": ["workspace_id", "reference", "id"],
}


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_group", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("retry_of", sa.BigInteger(), nullable=True))
        batch_op.drop_constraint("uq_entries_run_id_item_key", type_="unique")
        for name in _OLD_INDEXES:
            batch_op.drop_index(name)
        if postgres:
            batch_op.alter_column("reference", type_=sa.Text(collation="C"))
        for name, columns in _NEW_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
    op.create_table(
        "item_failures",
        sa.Column("sync_id", sa.String(length=36), nullable=False),
        sa.Column("item_key", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sync_id", "item_key", name=op.f("pk_item_failures")),
    )
    op.create_table(
        "resync_items",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("item_key", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_resync_items_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "item_key", name=op.f("pk_resync_items")),
    )
    op.create_table(
        "maintenance",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_maintenance")),
    )


def downgrade() -> None:
    op.drop_table("maintenance")
    op.drop_table("resync_items")
    op.drop_table("item_failures")
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("entries", schema=None) as batch_op:
        for name in _NEW_INDEXES:
            batch_op.drop_index(name)
        if postgres:
            batch_op.alter_column("reference", type_=sa.Text())
        for name, columns in _OLD_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
        batch_op.create_unique_constraint("uq_entries_run_id_item_key", ["run_id", "item_key"])
        batch_op.drop_column("retry_of")
        batch_op.drop_column("error_group")
