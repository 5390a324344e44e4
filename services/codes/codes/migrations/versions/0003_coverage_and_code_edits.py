"""Medicare coverage (lab NCD edits, the MCD index of LCDs and articles) and the Medicare
Code Editor's code lists. ICD-9-CM titles go in rule_codes (system ICD9CM).

Revision ID: 0003_coverage_and_code_edits
Revises: 0002_coding_rules

Mirrored for queries by codes/rules/storage.py (a test checks they stay identical).
"""

from alembic import op
import sqlalchemy as sa

revision = "0003_coverage_and_code_edits"
down_revision = "0002_coding_rules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rule_ncd_procedures",
        sa.Column("edition_id", sa.Integer, nullable=False),
        sa.Column("ncd", sa.String(8), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("code", sa.String(5), nullable=False),
        sa.Column("effective_from", sa.Date, nullable=True),
        sa.Column("term_date", sa.Date, nullable=True),
    )
    op.create_index("ix_rule_ncd_procedures_code", "rule_ncd_procedures", ["code"])

    op.create_table(
        "rule_ncd_diagnoses",
        sa.Column("edition_id", sa.Integer, nullable=False),
        sa.Column("ncd", sa.String(8), nullable=False),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("effective_from", sa.Date, nullable=True),
        sa.Column("term_date", sa.Date, nullable=True),
        sa.Column("resolution", sa.SmallInteger, nullable=False),
        sa.Column("changed", sa.Boolean, nullable=False),
    )
    op.create_index("ix_rule_ncd_diagnoses_code", "rule_ncd_diagnoses", ["code"])
    op.create_index("ix_rule_ncd_diagnoses_ncd", "rule_ncd_diagnoses", ["ncd"])

    op.create_table(
        "rule_coverage_documents",
        sa.Column("edition_id", sa.Integer, nullable=False),
        sa.Column("document_id", sa.String(16), nullable=False),
        sa.Column("document_type", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("contractor", sa.Text, nullable=False),
        sa.Column("effective_date", sa.Date, nullable=True),
        sa.Column("version", sa.String(16), nullable=True),
        sa.Column("url", sa.Text, nullable=True),
    )

    op.create_table(
        "rule_mce_edits",
        sa.Column("edition_id", sa.Integer, nullable=False),
        sa.Column("edit", sa.String(40), nullable=False),
        sa.Column("number", sa.String(4), nullable=False),
        sa.Column("list_title", sa.String(200), nullable=False),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("code_system", sa.String(8), nullable=False),
        sa.Column("flag", sa.String(4), nullable=True),
    )
    op.create_index("ix_rule_mce_edits_code", "rule_mce_edits", ["code"])


def downgrade() -> None:
    for table in ("rule_mce_edits", "rule_coverage_documents", "rule_ncd_diagnoses", "rule_ncd_procedures"):
        op.drop_table(table)
