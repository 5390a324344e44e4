"""Helpers for the services' test fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa

from .migrations import Schema

# The cluster the Elasticsearch runs of the search suites use.
ELASTICSEARCH_URL = os.environ.get("ELASTICSEARCH_URL", "http://127.0.0.1:9200")


def migrated_engine(schema: Schema, database_url: str) -> Iterator[sa.Engine]:
    """The body of a service's engine fixture: an engine on `database_url` with `schema`'s
    migrations applied, disposed of when the test is done (`yield from` it)."""
    engine = schema.open(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


class _ElasticIndex(Protocol):
    client: Any

    def close(self) -> None: ...


Index = TypeVar("Index", bound=_ElasticIndex)


def elastic_or_skip(index: Index, suite: str) -> Index:
    """`index` (an Elasticsearch search backend) when its cluster answers; otherwise it is
    closed and the test skipped, naming the suite that needs a cluster."""
    import pytest

    try:
        reachable = index.client.ping()
    except Exception:  # noqa: BLE001 - any failure means "no cluster here"
        reachable = False
    if not reachable:
        index.close()
        pytest.skip(f"no Elasticsearch answers at ELASTICSEARCH_URL={ELASTICSEARCH_URL}; the {suite} needs one")
    return index
