"""Jobs, applications, saved searches, alert mails, career profiles, outbox and inbox.

Revision ID: 0001_careers
Revises:
"""

from alembic import op
import sqlalchemy as sa

revision = "0001_careers"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "careers_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("employer_id", sa.String(100), nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("company", sa.String(120), nullable=False),
        sa.Column("location", sa.String(120), nullable=False),
        sa.Column("remote", sa.Boolean, nullable=False),
        sa.Column("employment_type", sa.String(40), nullable=False),
        sa.Column("salary_min", sa.Integer, nullable=True),
        sa.Column("salary_max", sa.Integer, nullable=True),
        sa.Column("certifications", sa.Text, nullable=False),
        sa.Column("specialty", sa.String(80), nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("posted_at", TZ, nullable=False),
        sa.Column("expires_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sample", sa.Boolean, nullable=False),
        sa.Column("closed_at", TZ, nullable=True),
    )
    op.create_index("ix_careers_jobs_employer_id", "careers_jobs", ["employer_id"])
    op.create_index("ix_careers_jobs_status", "careers_jobs", ["status"])
    op.create_table(
        "careers_applications",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("applicant_id", sa.String(100), nullable=False),
        sa.Column("applicant_name", sa.String(200), nullable=False),
        sa.Column("applicant_email", sa.String(320), nullable=False),
        sa.Column("cover_letter", sa.Text, nullable=False),
        sa.Column("resume_text", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("submitted_at", TZ, nullable=False),
        sa.UniqueConstraint("job_id", "applicant_id", name="uq_careers_applications_job_applicant"),
    )
    op.create_index("ix_careers_applications_job_id", "careers_applications", ["job_id"])
    op.create_index("ix_careers_applications_applicant_id", "careers_applications", ["applicant_id"])
    op.create_table(
        "careers_saved_searches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(100), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("filter", sa.Text, nullable=False),
        sa.Column("alerts", sa.Boolean, nullable=False),
        sa.Column("unsubscribe_token", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_careers_saved_searches_user_id", "careers_saved_searches", ["user_id"])
    op.create_table(
        "careers_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("saved_search_id", sa.String(36), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(100), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("unsubscribe_url", sa.String(600), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("sent_at", TZ, nullable=True),
        sa.UniqueConstraint("saved_search_id", "job_id", name="uq_careers_alerts_search_job"),
    )
    op.create_index("ix_careers_alerts_user_id", "careers_alerts", ["user_id"])
    op.create_index("ix_careers_alerts_sent_at", "careers_alerts", ["sent_at"])
    op.create_table(
        "careers_profiles",
        sa.Column("user_id", sa.String(100), primary_key=True),
        sa.Column("certifications", sa.Text, nullable=False),
        sa.Column("specialty", sa.String(80), nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "careers_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(60), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("published_at", TZ, nullable=True),
    )
    op.create_index("ix_careers_outbox_published_at", "careers_outbox", ["published_at"])
    op.create_table(
        "careers_inbox",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("received_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "careers_inbox",
        "careers_outbox",
        "careers_profiles",
        "careers_alerts",
        "careers_saved_searches",
        "careers_applications",
        "careers_jobs",
    ):
        op.drop_table(table)
