"""Code sets: editions, their code entries, and the event outbox.

Revision ID: 0001_code_sets
Revises:
"""

from alembic import op
import sqlalchemy as sa

revision = "0001_code_sets"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "codes_editions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("source_url", sa.String(500), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("is_current", sa.Boolean, nullable=False),
    )
    # At most one current edition per system.
    op.create_index(
        "uq_codes_editions_current",
        "codes_editions",
        ["system"],
        unique=True,
        sqlite_where=sa.text("is_current"),
        postgresql_where=sa.text("is_current"),
    )
    op.create_table(
        "codes_entries",
        sa.Column("edition_id", sa.String(32), sa.ForeignKey("codes_editions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("key", sa.String(16), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("parent_key", sa.String(16), nullable=True),
        sa.Column("billable", sa.Boolean, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("short_title", sa.Text, nullable=True),
        sa.Column("doc", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("edition_id", "system", "key", name="pk_codes_entries"),
    )
    op.create_index("ix_codes_entries_parent", "codes_entries", ["edition_id", "system", "parent_key"])
    op.create_table(
        "codes_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(60), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_codes_outbox_published_at", "codes_outbox", ["published_at"])


def downgrade() -> None:
    op.drop_table("codes_outbox")
    op.drop_table("codes_entries")
    op.drop_table("codes_editions")
