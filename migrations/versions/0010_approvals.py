"""Approvals: each approver's decision on a step (with its note), and each approval asked for
(when, until when, when its approvers were last reminded, when it expired), per round: a rejected
ticket a lead reopens asks again.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approval_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(length=100), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("approver_id", sa.BigInteger(), nullable=False),
        sa.Column("approver_name", sa.String(length=200), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.Column("procedure_version", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_decisions")),
        sa.UniqueConstraint(
            "ticket_id",
            "step_id",
            "round",
            "approver_id",
            name=op.f("uq_approval_decisions_ticket_id_step_id_round_approver_id"),
        ),
    )
    op.create_table(
        "approval_requests",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(length=100), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("remind_at", UTCDateTime(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("expired_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column("procedure_version", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("ticket_id", "step_id", "round", name=op.f("pk_approval_requests")),
    )
    op.create_index(
        "ix_approval_requests_open",
        "approval_requests",
        ["remind_at"],
        postgresql_where=sa.text("decided_at IS NULL"),
        sqlite_where=sa.text("decided_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_approval_requests_open", table_name="approval_requests")
    op.drop_table("approval_requests")
    op.drop_table("approval_decisions")
