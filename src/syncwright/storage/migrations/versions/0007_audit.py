"""audit: who last updated each configured object, and the audit log

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_CONFIGURED = ("sources", "models", "destinations", "syncs")


def upgrade() -> None:
    for table in _CONFIGURED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("updated_by_user_id", sa.String(length=36), nullable=True)
            )
            batch_op.create_foreign_key(
                op.f(f"fk_{table}_updated_by_user_id_users"),
                "users",
                ["updated_by_user_id"],
                ["id"],
            )
    op.create_table(
        "audit_log",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("object_type", sa.String(length=20), nullable=False),
        sa.Column("object_id", sa.String(length=36), nullable=True),
        sa.Column("object_name", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_workspace_id", "audit_log", ["workspace_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_workspace_id", table_name="audit_log")
    op.drop_table("audit_log")
    for table in _CONFIGURED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(
                op.f(f"fk_{table}_updated_by_user_id_users"), type_="foreignkey"
            )
            batch_op.drop_column("updated_by_user_id")
