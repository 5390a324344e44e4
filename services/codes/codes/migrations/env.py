"""Alembic environment of the codes service (version table alembic_version_codes; the coding rules' tables too)."""

from medcode_common.migrations import run_env

run_env()
