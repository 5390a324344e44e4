"""Metering test fixtures."""

from __future__ import annotations

import os

import pytest

from medcode_common.testing import migrated_engine

os.environ.update({"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "8", "ARGON2_PARALLELISM": "1"})


@pytest.fixture
def metering_engine(database_url):
    """A migrated metering database (SQLite and PostgreSQL)."""
    from metering import storage

    yield from migrated_engine(storage.SCHEMA, database_url)
