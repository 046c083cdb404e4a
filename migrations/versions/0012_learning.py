"""Learning from each ticket: retrospective answers, the reporter's satisfaction per resolution,
each procedure version's text (to say what changed), and the version each person last worked
under.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db.types import JSONText, UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retro_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.String(length=100), nullable=False),
        sa.Column("procedure_version", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", JSONText(), nullable=True),
        sa.Column("reasons", JSONText(), nullable=False),
        sa.Column("answered_by_id", sa.BigInteger(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retro_answers")),
        sa.UniqueConstraint(
            "ticket_id", "round", "name", name=op.f("uq_retro_answers_ticket_id_round_name")
        ),
    )
    op.create_index(
        "ix_retro_answers_procedure_id_answered_at",
        "retro_answers",
        ["procedure_id", "answered_at"],
    )
    op.create_table(
        "satisfaction",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.String(length=100), nullable=False),
        sa.Column("procedure_version", sa.String(length=64), nullable=False),
        sa.Column("reporter_id", sa.BigInteger(), nullable=False),
        sa.Column("asked_at", UTCDateTime(), nullable=False),
        sa.Column("happy", sa.Boolean(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("ticket_id", "round", name=op.f("pk_satisfaction")),
    )
    op.create_index("ix_satisfaction_procedure_id", "satisfaction", ["procedure_id"])
    op.create_table(
        "procedure_versions",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("procedure_id", sa.String(length=100), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("first_used_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_procedure_versions")),
    )
    op.create_table(
        "last_versions",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("procedure_id", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("worked_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "procedure_id", name=op.f("pk_last_versions")),
    )


def downgrade() -> None:
    op.drop_table("last_versions")
    op.drop_table("procedure_versions")
    op.drop_index("ix_satisfaction_procedure_id", table_name="satisfaction")
    op.drop_table("satisfaction")
    op.drop_index("ix_retro_answers_procedure_id_answered_at", table_name="retro_answers")
    op.drop_table("retro_answers")
