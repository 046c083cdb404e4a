"""Drop `ix_tickets_status`: `ix_tickets_status_due_at` starts with `status` and serves every
query the single-column index did, and each index on `tickets` is one more write per ticket
change (status, chase time, reminder state).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_tickets_status", table_name="tickets")


def downgrade() -> None:
    op.create_index("ix_tickets_status", "tickets", ["status"])
