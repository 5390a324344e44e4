"""Fixtures every test tree shares: the data mirror and the two database backends."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent


def _mirror() -> Path:
    configured = os.environ.get("DATA_MIRROR")
    return Path(configured) if configured else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_mirror() -> Path:
    """The local mirror of the official releases (../shared/data in CI)."""
    mirror = _mirror()
    if not mirror.is_dir():
        pytest.fail(f"DATA_MIRROR {mirror} is not a directory: point DATA_MIRROR at the mirror")
    return mirror


def _postgres_admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    return _postgres_admin_url()


def create_postgres_database() -> tuple[str, callable]:
    """A fresh, empty PostgreSQL database; returns its URL and a function that drops it."""
    import sqlalchemy as sa

    from medcode_common.settings import normalise_database_url

    admin_url = normalise_database_url(_postgres_admin_url())
    name = f"medcode_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """Each persistence test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    url, drop = create_postgres_database()
    yield url
    drop()


@pytest.fixture(scope="session")
def rabbit_manager(request):
    """Nameko's pytest plugin makes the vhosts of `rabbit_config` through this: our one
    management-API helper instead of nameko's own client."""
    from medcode_common.broker_admin import BrokerAdmin

    return BrokerAdmin(request.config.getoption("RABBIT_API_URI"))
