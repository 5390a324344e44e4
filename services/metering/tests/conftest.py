"""Metering test fixtures."""

from __future__ import annotations

import os

import pytest

os.environ.update({"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "8", "ARGON2_PARALLELISM": "1"})


@pytest.fixture
def metering_engine(database_url):
    """A migrated metering database (SQLite and PostgreSQL)."""
    from medcode_common.db import make_engine
    from medcode_common.migrations import upgrade
    from metering import storage

    engine = make_engine(database_url)
    upgrade(engine, storage.MIGRATIONS, storage.VERSION_TABLE)
    yield engine
    engine.dispose()
