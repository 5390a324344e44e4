"""Mails accepted for the assistant and where their processing stands.

Revision ID: 0001_mail_ingress
Revises:
"""

from alembic import op
import sqlalchemy as sa

revision = "0001_mail_ingress"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mail_ingress_mails",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(300), nullable=False, unique=True),
        sa.Column("envelope_sender", sa.String(320), nullable=True),
        sa.Column("raw", sa.LargeBinary, nullable=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("sender_key", sa.String(64), nullable=True),
        sa.Column("guest", sa.Boolean, nullable=True),
        sa.Column("conversation_id", sa.String(64), nullable=True),
        sa.Column("reply_message_id", sa.String(300), nullable=True),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("done_at", TZ, nullable=True),
    )
    for column in ("state", "next_attempt_at", "sender_key", "reply_message_id"):
        op.create_index(f"ix_mail_ingress_mails_{column}", "mail_ingress_mails", [column])


def downgrade() -> None:
    op.drop_table("mail_ingress_mails")
