"""Conversations, their messages, answered request ids, the event outbox and inbox.

Revision ID: 0001_assistant
Revises:
"""

from alembic import op
import sqlalchemy as sa

revision = "0001_assistant"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "assistant_conversations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("context", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_assistant_conversations_owner", "assistant_conversations", ["owner"])
    op.create_table(
        "assistant_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "conversation_id",
            sa.String(36),
            sa.ForeignKey("assistant_conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=True),
        sa.Column("at", TZ, nullable=False),
    )
    op.create_index("ix_assistant_messages_conversation_id", "assistant_messages", ["conversation_id"])
    op.create_table(
        "assistant_requests",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column(
            "conversation_id",
            sa.String(36),
            sa.ForeignKey("assistant_conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_assistant_requests_conversation_id", "assistant_requests", ["conversation_id"])
    op.create_table(
        "assistant_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(60), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("published_at", TZ, nullable=True),
    )
    op.create_index("ix_assistant_outbox_published_at", "assistant_outbox", ["published_at"])
    op.create_table(
        "assistant_inbox",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("received_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("assistant_inbox")
    op.drop_table("assistant_outbox")
    op.drop_table("assistant_requests")
    op.drop_table("assistant_messages")
    op.drop_table("assistant_conversations")
