"""Counters per client address or account: failed log-ins, registrations.

Revision ID: 0002_accounts_rate_counters
Revises: 0001_accounts
"""

from alembic import op
import sqlalchemy as sa

revision = "0002_accounts_rate_counters"
down_revision = "0001_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts_rate_counters",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_index("ix_accounts_rate_counters_window_start", "accounts_rate_counters", ["window_start"])


def downgrade() -> None:
    op.drop_index("ix_accounts_rate_counters_window_start", table_name="accounts_rate_counters")
    op.drop_table("accounts_rate_counters")
