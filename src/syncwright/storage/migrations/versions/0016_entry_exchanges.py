"""failed entries keep what went to the destination and what came back (the request after
templates, the answer's status and body), for the failed item's page; runs count the items a
cancel left unsent apart from those waiting for a retry

Downgrading drops the exchanges, and counts unsent items as pending again.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entry_exchanges",
        sa.Column("entry_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("exchange", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_entry_exchanges")),
    )
    # In place, not in batch mode: copying the table would delete the rows that refer to runs.
    op.add_column(
        "runs", sa.Column("not_sent", sa.BigInteger(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    op.execute("UPDATE runs SET pending = pending + not_sent")
    op.execute("UPDATE entries SET status = 'pending' WHERE status = 'not_sent'")
    op.drop_column("runs", "not_sent")
    op.drop_table("entry_exchanges")
