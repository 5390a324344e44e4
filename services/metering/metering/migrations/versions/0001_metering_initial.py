"""Counters, views, guest views per IP and day, carry-overs, outbox and inbox.

Revision ID: 0001_metering
Revises:
"""

from alembic import op
import sqlalchemy as sa

revision = "0001_metering"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "metering_subjects",
        sa.Column("key", sa.String(110), primary_key=True),
        sa.Column("period_start", sa.BigInteger, nullable=False),
        sa.Column("views_used", sa.Integer, nullable=False),
        sa.Column("questions_used", sa.Integer, nullable=False),
        sa.Column("exhausted_notified", sa.Boolean, nullable=False),
    )
    op.create_table(
        "metering_views",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subject_key", sa.String(110), nullable=False),
        sa.Column("period_start", sa.BigInteger, nullable=False),
        sa.Column("resource", sa.String(100), nullable=False),
        sa.Column("viewed_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint(
            "subject_key", "period_start", "resource", name="uq_metering_views_subject_period_resource"
        ),
    )
    op.create_table(
        "metering_ip_days",
        sa.Column("ip", sa.String(64), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("guest_views", sa.Integer, nullable=False),
    )
    op.create_table(
        "metering_carry_overs",
        sa.Column("guest_key", sa.String(110), primary_key=True),
        sa.Column("user_key", sa.String(110), primary_key=True),
        sa.Column("done_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "metering_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(60), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("published_at", TZ, nullable=True),
    )
    op.create_index("ix_metering_outbox_published_at", "metering_outbox", ["published_at"])
    op.create_table(
        "metering_inbox",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("received_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "metering_inbox",
        "metering_outbox",
        "metering_carry_overs",
        "metering_ip_days",
        "metering_views",
        "metering_subjects",
    ):
        op.drop_table(table)
