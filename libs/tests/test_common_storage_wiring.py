"""The one way a service opens its database (medcode_common.migrations.Schema and
medcode_common.nameko_storage.Storage), on SQLite and PostgreSQL: migrations under the
lock, so replicas starting together never migrate at once, and one engine per process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib import resources
from unittest.mock import Mock

import pytest
import sqlalchemy as sa
from nameko import config

from medcode_common import nameko_storage
from medcode_common.db import make_engine
from medcode_common.migrations import Schema, _migration_lock
from medcode_common.nameko_storage import Storage

PACKAGE = "wiring_probe"

MIGRATION = '''
"""A table, created slowly: replicas that did not wait for each other would both try."""
import time

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    time.sleep(float(__import__("os").environ.get("PROBE_MIGRATION_SECONDS", "0")))
    op.create_table("probe_things", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("probe_things")
'''


@pytest.fixture
def probe(tmp_path, monkeypatch) -> Schema:
    """A service package `wiring_probe` with one migration, importable here and in children."""
    package = tmp_path / "src" / PACKAGE
    versions = package / "migrations" / "versions"
    versions.mkdir(parents=True)
    for folder in (package, package / "migrations", versions):
        (folder / "__init__.py").write_text("")
    (package / "migrations" / "env.py").write_text("from medcode_common.migrations import run_env\n\nrun_env()\n")
    (package / "migrations" / "script.py.mako").write_text("")
    (versions / "0001_things.py").write_text(MIGRATION)
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "src"), os.environ.get("PYTHONPATH", "")]))
    return Schema.of(PACKAGE)


def _replica(url: str, seconds: float = 0.0) -> subprocess.Popen:
    """A process that opens the probe's database as a starting service would."""
    code = textwrap.dedent(f"""
        from medcode_common.migrations import Schema
        Schema.of({PACKAGE!r}).open({url!r}).dispose()
    """)
    env = dict(os.environ, PROBE_MIGRATION_SECONDS=str(seconds))
    return subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True)


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_schema_of_a_service_names_its_migrations_and_version_table():
    assert Schema.of("accounts") == Schema("accounts", "accounts.migrations", "alembic_version_accounts")


def test_open_migrates_and_is_idempotent(probe, database_url):
    for _ in range(2):
        engine = probe.open(database_url)
        engine.dispose()
    assert {"probe_things", "alembic_version_wiring_probe"} <= _tables(database_url)


def test_replicas_starting_together_migrate_one_at_a_time(probe, database_url):
    replicas = [_replica(database_url, seconds=0.5) for _ in range(3)]
    errors = [replica.communicate(timeout=120)[1] for replica in replicas]
    assert [replica.returncode for replica in replicas] == [0, 0, 0], errors
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version_wiring_probe")).all() == [("0001",)]
    finally:
        engine.dispose()


def test_a_replica_waits_for_the_lock_another_holds(probe, database_url):
    """While one process holds the migration lock, another starting service does not
    migrate: it waits, then finds its work to do once the lock is released."""
    engine = make_engine(database_url)
    try:
        with _migration_lock(engine, probe.version_table):
            replica = _replica(database_url)
            with pytest.raises(subprocess.TimeoutExpired):
                replica.wait(timeout=3)
            assert "probe_things" not in _tables(database_url)
        assert replica.wait(timeout=120) == 0, replica.stderr.read()
    finally:
        engine.dispose()
    assert "probe_things" in _tables(database_url)


class _ThingsProvider(Storage):
    schema = Schema.of(PACKAGE)
    closed: list = []

    def build(self, engine):
        return ("things", engine)

    def close(self, built):
        self.closed.append(built)


def test_storage_providers_share_one_engine_and_migrate_once(probe, database_url, monkeypatch):
    """Two providers of one schema (codes' store and rules): one engine, one migration."""
    upgrades = []
    real_upgrade = Schema.upgrade
    monkeypatch.setattr(
        Schema,
        "upgrade",
        lambda self, engine, revision="head": (
            upgrades.append(self.version_table),
            real_upgrade(self, engine, revision),
        ),
    )
    with config.patch({"DATABASE_URL": database_url}):
        first, second = (_ThingsProvider().bind(Mock(), name) for name in ("things", "more_things"))
        first.setup()
        second.setup()
        try:
            assert upgrades == [probe.version_table]
            assert first.get_dependency(None) == ("things", first.engine)
            assert first.engine is second.engine is nameko_storage.shared_engine(PACKAGE)
            assert "probe_things" in _tables(database_url)
        finally:
            first.stop()
            second.stop()
        assert _ThingsProvider.closed[-2:] == [("things", first.engine), ("things", second.engine)]
        # Stopped: a new start opens a new engine and checks the schema again.
        third = _ThingsProvider().bind(Mock(), "things")
        third.setup()
        third.stop()
    assert third.engine is not first.engine
    assert upgrades == [probe.version_table] * 2


def test_every_service_is_wired_by_the_same_provider():
    from accounts.dependencies import AccountsProvider
    from assistant.dependencies import AssistantProvider
    from careers.dependencies import CareersProvider
    from codes.dependencies import CodeStoreProvider
    from codes.rules.provider import CodingRulesProvider
    from metering.dependencies import MeteringProvider

    schemas = {
        provider.schema.database: provider.schema
        for provider in (
            AccountsProvider,
            AssistantProvider,
            CareersProvider,
            CodeStoreProvider,
            CodingRulesProvider,
            MeteringProvider,
        )
    }
    assert schemas == {name: Schema.of(name) for name in ("accounts", "assistant", "careers", "codes", "metering")}
    for schema in schemas.values():  # and every Alembic environment is the shared one
        assert "run_env()" in (resources.files(schema.migrations) / "env.py").read_text()
