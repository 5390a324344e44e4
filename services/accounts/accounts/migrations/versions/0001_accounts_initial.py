"""Accounts, sessions, failed log-ins and the event outbox.

Revision ID: 0001_accounts
Revises:
"""

from alembic import op
import sqlalchemy as sa

revision = "0001_accounts"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts_accounts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("plan", sa.String(10), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "accounts_sessions",
        sa.Column("jti", sa.String(36), primary_key=True),
        sa.Column(
            "account_id", sa.String(36), sa.ForeignKey("accounts_accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("issued_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ, nullable=True),
    )
    op.create_index("ix_accounts_sessions_account_id", "accounts_sessions", ["account_id"])
    op.create_index("ix_accounts_sessions_expires_at", "accounts_sessions", ["expires_at"])
    op.create_table(
        "accounts_login_attempts",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("email_key", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_until", TZ, nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_accounts_login_attempts_email_key", "accounts_login_attempts", ["email_key"])
    op.create_table(
        "accounts_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(60), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("published_at", TZ, nullable=True),
    )
    op.create_index("ix_accounts_outbox_published_at", "accounts_outbox", ["published_at"])


def downgrade() -> None:
    op.drop_table("accounts_outbox")
    op.drop_table("accounts_login_attempts")
    op.drop_table("accounts_sessions")
    op.drop_table("accounts_accounts")
