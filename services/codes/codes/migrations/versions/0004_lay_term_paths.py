"""Lay terms keep the index path they come from (rule_lay_terms.path).

Revision ID: 0004_lay_term_paths
Revises: 0003_coverage_and_code_edits

A search hit whose title does not hold the words typed says which index entry matched
("Swollen - see Swelling, glands"). Nullable: rows loaded before keep NULL until the index
edition is loaded again (its reader version changed, so the next load does that).
"""

from alembic import op
import sqlalchemy as sa

revision = "0004_lay_term_paths"
down_revision = "0003_coverage_and_code_edits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rule_lay_terms") as batch:
        batch.add_column(sa.Column("path", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rule_lay_terms") as batch:
        batch.drop_column("path")
