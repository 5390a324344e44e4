"""Guest questions per client IP per day (beside guest views).

Revision ID: 0003_metering_ip_questions
Revises: 0002_metering_daily_uses
"""

from alembic import op
import sqlalchemy as sa

revision = "0003_metering_ip_questions"
down_revision = "0002_metering_daily_uses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("metering_ip_days") as batch:
        batch.add_column(sa.Column("guest_questions", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("metering_ip_days") as batch:
        batch.drop_column("guest_questions")
