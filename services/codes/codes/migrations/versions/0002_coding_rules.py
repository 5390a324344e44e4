"""Coding rules: NCCI PTP edits, MUEs, GEM crosswalks, lay terms, modifiers, rule codes.

Revision ID: 0002_coding_rules
Revises: 0001_code_sets

Mirrored for queries by codes/rules/storage.py (a test checks they stay identical). The
row tables carry no foreign key to rule_editions on purpose: a 2.5 M-row PTP load stays
fast, and the store deletes an edition's rows itself.
"""

from alembic import op
import sqlalchemy as sa

revision = "0002_coding_rules"
down_revision = "0001_code_sets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rule_editions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("setting", sa.String(32), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("counts", sa.Text, nullable=False, server_default="{}"),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_rule_editions_kind_status", "rule_editions", ["kind", "setting", "status"])

    op.create_table(
        "rule_ptp_edits",
        sa.Column("edition_id", sa.Integer, nullable=False),
        sa.Column("setting", sa.String(32), nullable=False),
        sa.Column("column1", sa.String(5), nullable=False),
        sa.Column("column2", sa.String(5), nullable=False),
        sa.Column("effective_from", sa.Date, nullable=True),
        sa.Column("deleted_on", sa.Date, nullable=True),
        sa.Column("modifier_indicator", sa.SmallInteger, nullable=False),
        sa.Column("rationale", sa.String(120), nullable=True),
    )
    op.create_index("ix_rule_ptp_pair", "rule_ptp_edits", ["setting", "column1", "column2"])
    op.create_index("ix_rule_ptp_column2", "rule_ptp_edits", ["setting", "column2"])

    op.create_table(
        "rule_mue",
        sa.Column("edition_id", sa.Integer, nullable=False),
        sa.Column("setting", sa.String(32), nullable=False),
        sa.Column("code", sa.String(5), nullable=False),
        sa.Column("max_units", sa.Integer, nullable=False),
        sa.Column("adjudication_indicator", sa.String(80), nullable=False),
        sa.Column("rationale", sa.String(200), nullable=True),
    )
    op.create_index("ix_rule_mue_code", "rule_mue", ["setting", "code"])

    op.create_table(
        "rule_crosswalks",
        sa.Column("edition_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("source_code", sa.String(8), nullable=False),
        sa.Column("target_code", sa.String(8), nullable=False),
        sa.Column("approximate", sa.Boolean, nullable=False),
        sa.Column("no_map", sa.Boolean, nullable=False),
        sa.Column("combination", sa.Boolean, nullable=False),
        sa.Column("scenario", sa.SmallInteger, nullable=False),
        sa.Column("choice_list", sa.SmallInteger, nullable=False),
    )
    op.create_index("ix_rule_crosswalks_source", "rule_crosswalks", ["source_code"])
    op.create_index("ix_rule_crosswalks_target", "rule_crosswalks", ["target_code"])

    op.create_table(
        "rule_lay_terms",
        sa.Column("edition_id", sa.Integer, nullable=False),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("term", sa.Text, nullable=False),
    )
    op.create_index("ix_rule_lay_terms_code", "rule_lay_terms", ["code"])

    op.create_table(
        "rule_modifiers",
        sa.Column("edition_id", sa.Integer, nullable=False),
        sa.Column("code", sa.String(2), nullable=False),
        sa.Column("system", sa.String(8), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("terminated_on", sa.Date, nullable=True),
    )
    op.create_index("ix_rule_modifiers_code", "rule_modifiers", ["code"])

    op.create_table(
        "rule_codes",
        sa.Column("edition_id", sa.Integer, nullable=False),
        sa.Column("code", sa.String(5), nullable=False),
        sa.Column("system", sa.String(8), nullable=False),
        sa.Column("title", sa.Text, nullable=True),
        sa.Column("last_day", sa.Date, nullable=True),
    )
    op.create_index("ix_rule_codes_code", "rule_codes", ["code"])


def downgrade() -> None:
    for table in (
        "rule_codes",
        "rule_modifiers",
        "rule_lay_terms",
        "rule_crosswalks",
        "rule_mue",
        "rule_ptp_edits",
        "rule_editions",
    ):
        op.drop_table(table)
