"""Helpers for the services' test fixtures."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa

from .migrations import Schema

# The cluster the Elasticsearch runs of the search suites use.
ELASTICSEARCH_URL = os.environ.get("ELASTICSEARCH_URL", "http://127.0.0.1:9200")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def local_platform_env(amqp_uri: str, data_dir: Path, gateway_port: int) -> dict[str, str]:
    """What makes a platform on this machine one of its own (the e2e stacks, the launcher's
    test, the benchmark): its broker vhost, data directory, gateway port and mail ports."""
    return dict(
        AMQP_URI=amqp_uri,
        DATA_DIR=str(data_dir),
        GATEWAY_HOST="127.0.0.1",
        GATEWAY_PORT=str(gateway_port),
        SMTP_PORT=str(free_port()),
        SMTP_RELAY=f"127.0.0.1:{free_port()}",
    )


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
