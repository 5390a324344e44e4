"""Helpers for the services' test fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa

from .migrations import Schema


def migrated_engine(schema: Schema, database_url: str) -> Iterator[sa.Engine]:
    """The body of a service's engine fixture: an engine on `database_url` with `schema`'s
    migrations applied, disposed of when the test is done (`yield from` it)."""
    engine = schema.open(database_url)
    try:
        yield engine
    finally:
        engine.dispose()
