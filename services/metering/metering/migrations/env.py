"""Alembic environment of the metering service (version table alembic_version_metering)."""

from medcode_common.migrations import run_env

run_env()
