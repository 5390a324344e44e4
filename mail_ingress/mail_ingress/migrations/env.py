"""Alembic environment of the mail ingress (version table alembic_version_mail_ingress)."""

from medcode_common.migrations import run_env

run_env()
