"""Alembic environment of the accounts service (version table alembic_version_accounts)."""

from medcode_common.migrations import run_env

run_env()
