"""Alembic environment of the assistant service (version table alembic_version_assistant)."""

from medcode_common.migrations import run_env

run_env()
