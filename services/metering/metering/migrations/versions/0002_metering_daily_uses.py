"""Claim checks per day (metering_daily_uses); indexes the retention job deletes by.

Revision ID: 0002_metering_daily_uses
Revises: 0001_metering
"""

from alembic import op
import sqlalchemy as sa

revision = "0002_metering_daily_uses"
down_revision = "0001_metering"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metering_daily_uses",
        sa.Column("key", sa.String(110), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("used", sa.Integer, nullable=False),
    )
    op.create_index("ix_metering_subjects_period_start", "metering_subjects", ["period_start"])
    op.create_index("ix_metering_views_period_start", "metering_views", ["period_start"])
    op.create_index("ix_metering_ip_days_day", "metering_ip_days", ["day"])
    op.create_index("ix_metering_inbox_received_at", "metering_inbox", ["received_at"])


def downgrade() -> None:
    for name, table in (
        ("ix_metering_inbox_received_at", "metering_inbox"),
        ("ix_metering_ip_days_day", "metering_ip_days"),
        ("ix_metering_views_period_start", "metering_views"),
        ("ix_metering_subjects_period_start", "metering_subjects"),
    ):
        op.drop_index(name, table_name=table)
    op.drop_table("metering_daily_uses")
