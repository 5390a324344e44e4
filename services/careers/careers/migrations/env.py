"""Alembic environment of the careers service (version table alembic_version_careers)."""

from medcode_common.migrations import run_env

run_env()
