"""Accounts test fixtures. argon2 is made cheap here so the suite stays fast."""

from __future__ import annotations

import os

import pytest

from medcode_common.testing import migrated_engine

FAST_ARGON2 = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "8", "ARGON2_PARALLELISM": "1"}
os.environ.update(FAST_ARGON2)


@pytest.fixture
def accounts_engine(database_url):
    """A migrated accounts database (SQLite and PostgreSQL)."""
    from accounts import storage

    yield from migrated_engine(storage.SCHEMA, database_url)
