"""lean entries: numbers for runs, syncs and workspaces (scopes), the change set record of
each entry (its payload), change set records kept after the run

Downgrading gives entries their ids back, but not the payloads of entries written since
(they are in change set records, which the older code does not read), and the records of a
run still live then are in a format the older code cannot read: finish or cancel runs first.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_OLD_INDEXES = {
    "ix_entries_run_status_seq": ["run_id", "status", "seq"],
    "ix_entries_run_id": ["run_id", "id"],
    "ix_entries_sync_id": ["sync_id", "id"],
    "ix_entries_sync_status_id": ["sync_id", "status", "id"],
    "ix_entries_sync_item_id": ["sync_id", "item_key", "id"],
    "ix_entries_workspace_status_id": ["workspace_id", "status", "id"],
    "ix_entries_workspace_reference_id": ["workspace_id", "reference", "id"],
}
_NEW_INDEXES = {
    "ix_entries_run_no_status_seq": ["run_no", "status", "seq"],
    "ix_entries_run_no_id": ["run_no", "id"],
    "ix_entries_sync_no_id": ["sync_no", "id"],
    "ix_entries_sync_no_status_id": ["sync_no", "status", "id"],
    "ix_entries_sync_no_item_key_id": ["sync_no", "item_key", "id"],
    "ix_entries_workspace_no_status_id": ["workspace_no", "status", "id"],
    "ix_entries_workspace_no_reference_id": ["workspace_no", "reference", "id"],
}
#: (kind, the entries' column of ids, the entries' column of numbers)
_SCOPES = (
    ("workspace", "workspace_id", "workspace_no"),
    ("sync", "sync_id", "sync_no"),
    ("run", "run_id", "run_no"),
)


def upgrade() -> None:
    op.create_table(
        "scopes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scopes")),
        sa.UniqueConstraint("kind", "uid", name=op.f("uq_scopes_kind_uid")),
        # Numbers are never given twice, even after the newest is deleted.
        sqlite_autoincrement=True,
    )
    for kind, ids, _ in _SCOPES:
        # In the order of their first entry, as the engine numbers them.
        op.execute(
            f"INSERT INTO scopes (kind, uid) SELECT '{kind}', {ids} FROM entries"
            f" GROUP BY {ids} ORDER BY min(id)"
        )
    with op.batch_alter_table("run_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rows", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("first_seq", sa.Integer(), nullable=True))
    with op.batch_alter_table("entries", schema=None) as batch_op:
        for _, _, numbers in _SCOPES:
            batch_op.add_column(sa.Column(numbers, sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("batch", sa.Integer(), nullable=True))
    for kind, ids, numbers in _SCOPES:
        op.execute(
            f"UPDATE entries SET {numbers} = (SELECT s.id FROM scopes s"
            f" WHERE s.kind = '{kind}' AND s.uid = entries.{ids})"
        )
    with op.batch_alter_table("entries", schema=None) as batch_op:
        for name in _OLD_INDEXES:
            batch_op.drop_index(name)
        batch_op.drop_constraint("fk_entries_run_id_runs", type_="foreignkey")
        for _, ids, numbers in _SCOPES:
            batch_op.drop_column(ids)
            batch_op.alter_column(numbers, existing_type=sa.BigInteger(), nullable=False)
        for name, columns in _NEW_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("entries", schema=None) as batch_op:
        for _, ids, _ in _SCOPES:
            batch_op.add_column(sa.Column(ids, sa.String(length=36), nullable=True))
    for kind, ids, numbers in _SCOPES:
        op.execute(
            f"UPDATE entries SET {ids} = (SELECT s.uid FROM scopes s"
            f" WHERE s.kind = '{kind}' AND s.id = entries.{numbers})"
        )
    with op.batch_alter_table("entries", schema=None) as batch_op:
        for name in _NEW_INDEXES:
            batch_op.drop_index(name)
        for _, ids, numbers in _SCOPES:
            batch_op.drop_column(numbers)
            batch_op.alter_column(ids, existing_type=sa.String(length=36), nullable=False)
        batch_op.drop_column("batch")
        batch_op.create_foreign_key("fk_entries_run_id_runs", "runs", ["run_id"], ["id"])
        for name, columns in _OLD_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
    with op.batch_alter_table("run_batches", schema=None) as batch_op:
        batch_op.drop_column("first_seq")
        batch_op.drop_column("rows")
    op.drop_table("scopes")
