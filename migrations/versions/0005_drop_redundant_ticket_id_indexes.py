"""Drop `ix_ticket_fields_ticket_id` and `ix_ticket_steps_ticket_id`: the unique constraints
on (ticket_id, name) and (ticket_id, step_id) start with `ticket_id` and serve every query by
ticket, and each extra index is one more page written for every answer and every step done.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_ticket_fields_ticket_id", table_name="ticket_fields")
    op.drop_index("ix_ticket_steps_ticket_id", table_name="ticket_steps")


def downgrade() -> None:
    op.create_index("ix_ticket_steps_ticket_id", "ticket_steps", ["ticket_id"])
    op.create_index("ix_ticket_fields_ticket_id", "ticket_fields", ["ticket_id"])
