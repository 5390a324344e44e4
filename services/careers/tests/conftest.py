"""Careers test fixtures: a migrated database (SQLite and PostgreSQL) and the domain over
it with an embedded job index and a clock the test can move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from medcode_common.testing import migrated_engine


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def careers_engine(database_url):
    from careers import storage

    yield from migrated_engine(storage.SCHEMA, database_url)


@pytest.fixture
def clock():
    return Clock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def board(careers_engine, clock, tmp_path):
    from careers.config import CareersSettings
    from careers.domain import Careers
    from careers.search.embedded import EmbeddedJobIndex
    from careers.storage import CareerStore

    settings = CareersSettings(CAREERS_DEMO_DATA=False, CAREERS_PUBLIC_URL="https://jobs.example.org")
    index = EmbeddedJobIndex(tmp_path / "index")
    yield Careers(CareerStore(careers_engine), index, settings, clock=clock)
    index.close()
