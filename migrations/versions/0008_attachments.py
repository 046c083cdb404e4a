"""Files on tickets: each photo, document, voice or video a person sent, with the sha256 of the
bytes stored on disk (content-addressed) and Telegram's file id; and the outbox can send a
stored Telegram file back by its id.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.db.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("mime_type", sa.String(length=100), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("file_id", sa.String(length=255), nullable=False),
        sa.Column("file_unique_id", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("field", sa.String(length=100), nullable=True),
        sa.Column("media_group_id", sa.String(length=64), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("added_by_id", sa.BigInteger(), nullable=True),
        sa.Column("added_by_name", sa.String(length=200), nullable=True),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index("ix_attachments_ticket_id_id", "attachments", ["ticket_id", "id"])
    op.create_index("ix_attachments_media_group_id", "attachments", ["media_group_id"])
    op.create_index("ix_attachments_chat_id_message_id", "attachments", ["chat_id", "message_id"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("file_id", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("file_kind", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("file_kind")
        batch.drop_column("file_id")
    op.drop_index("ix_attachments_chat_id_message_id", table_name="attachments")
    op.drop_index("ix_attachments_media_group_id", table_name="attachments")
    op.drop_index("ix_attachments_ticket_id_id", table_name="attachments")
    op.drop_table("attachments")
