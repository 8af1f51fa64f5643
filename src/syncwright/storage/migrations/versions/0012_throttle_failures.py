"""throttle failures: failed sign-ins per account and address, invalid tokens per address

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "throttle_failures",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_throttle_failures")),
    )
    op.create_index("ix_throttle_failures_kind_last_at", "throttle_failures", ["kind", "last_at"])


def downgrade() -> None:
    op.drop_index("ix_throttle_failures_kind_last_at", table_name="throttle_failures")
    op.drop_table("throttle_failures")
