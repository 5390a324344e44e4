"""The one way a service opens its database (medcode_common.migrations.Schema and
medcode_common.nameko_storage.Storage), on SQLite and PostgreSQL: migrations under the
lock, so replicas starting together never migrate at once, one engine per process, and
a service that never holds Alembic (the check at start reads the scripts' heads without
it; the upgrade, when one is due, runs in a child process)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path
from unittest.mock import Mock

import pytest
import sqlalchemy as sa
from nameko import config

from medcode_common import nameko_storage
from medcode_common.db import make_engine
from medcode_common.migrations import MigrationError, Schema, _migration_lock, alembic_config, head_revisions
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
    if __import__("os").environ.get("PROBE_MIGRATION_FAILS"):
        raise RuntimeError("probe migration failed on purpose")
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
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:  # an earlier test's probe
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "src"), os.environ.get("PYTHONPATH", "")]))
    return Schema.of(PACKAGE)


SECOND_MIGRATION = """
import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"


def upgrade():
    op.add_column("probe_things", sa.Column("name", sa.String(20)))


def downgrade():
    op.drop_column("probe_things", "name")
"""


def _replica(url: str, seconds: float = 0.0, in_child: bool = False) -> subprocess.Popen:
    """A process that opens the probe's database as a command line (or, `in_child`, as a
    starting service: the upgrade in a child of its own) would."""
    code = textwrap.dedent(f"""
        from medcode_common.migrations import Schema
        Schema.of({PACKAGE!r}).open({url!r}, in_child={in_child!r}).dispose()
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


@pytest.mark.parametrize("in_child", [False, True], ids=["in-process", "in-child"])
def test_replicas_starting_together_migrate_one_at_a_time(probe, database_url, in_child):
    replicas = [_replica(database_url, seconds=0.5, in_child=in_child) for _ in range(3)]
    errors = [replica.communicate(timeout=120)[1] for replica in replicas]
    assert [replica.returncode for replica in replicas] == [0, 0, 0], errors
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version_wiring_probe")).all() == [("0001",)]
    finally:
        engine.dispose()


@pytest.mark.parametrize("in_child", [False, True], ids=["in-process", "in-child"])
def test_a_replica_waits_for_the_lock_another_holds(probe, database_url, in_child):
    """While one process holds the migration lock, another starting service does not
    migrate: it waits, then finds its work to do once the lock is released."""
    engine = make_engine(database_url)
    try:
        with _migration_lock(engine, probe.version_table):
            replica = _replica(database_url, in_child=in_child)
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
    migrations = []
    real_migrate = Schema.migrate
    monkeypatch.setattr(
        Schema,
        "migrate",
        lambda self, engine, in_child=False: (
            migrations.append((self.version_table, in_child)) or real_migrate(self, engine, in_child)
        ),
    )
    with config.patch({"DATABASE_URL": database_url}):
        first, second = (_ThingsProvider().bind(Mock(), name) for name in ("things", "more_things"))
        first.setup()
        second.setup()
        try:
            assert migrations == [(probe.version_table, True)]
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
    assert migrations == [(probe.version_table, True)] * 2


def test_a_services_engine_is_made_with_its_options_whoever_makes_it_first(tmp_path, monkeypatch):
    """Options are the database's, not a provider's: an outbox relay that makes the engine
    before the storage providers (Nameko sets providers up in no fixed order) makes it alike."""
    monkeypatch.setattr(nameko_storage, "_engine_options", {})
    nameko_storage.make_engines_with("optioned", lambda: {"sqlite_cache_kib": 128})
    with config.patch({"DATABASE_URL": f"sqlite:///{tmp_path / 'optioned.sqlite3'}"}):
        try:
            first = nameko_storage.shared_engine("optioned")  # as a relay would, with no options of its own
            with first.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -128
            assert nameko_storage.shared_engine("optioned") is first
        finally:
            nameko_storage.dispose_engine("optioned")


def test_the_codes_process_bounds_its_sqlite_page_cache_for_every_provider(tmp_path, monkeypatch):
    monkeypatch.setenv("CODES_SQLITE_CACHE_KIB", "192")
    import codes.dependencies  # noqa: F401 - importing the service's providers declares the options

    with config.patch({"DATABASE_URL": f"sqlite:///{tmp_path / 'codes.sqlite3'}"}):
        try:
            with nameko_storage.shared_engine("codes").connect() as conn:
                assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -192
        finally:
            nameko_storage.dispose_engine("codes")


def _without_alembic(monkeypatch) -> None:
    """From here on, importing alembic (or mako, which only alembic needs) fails."""
    for name in list(sys.modules):
        if name.split(".")[0] in ("alembic", "mako"):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "alembic", None)
    monkeypatch.setitem(sys.modules, "mako", None)


def test_a_current_schema_is_recognised_without_alembic(probe, database_url, monkeypatch):
    engine = probe.open(database_url)
    try:
        _without_alembic(monkeypatch)
        assert probe.is_current(engine)
        assert probe.migrate(engine, in_child=True) is False
    finally:
        engine.dispose()


def test_a_service_migrates_in_a_child_process_without_importing_alembic(probe, database_url, monkeypatch, caplog):
    _without_alembic(monkeypatch)
    engine = make_engine(database_url)
    try:
        assert not probe.is_current(engine)
        with caplog.at_level(logging.INFO, logger="medcode_common.migrations"):
            assert probe.migrate(engine, in_child=True) is True
        assert probe.is_current(engine)
        assert "probe_things" in _tables(database_url)
        assert "Running upgrade  -> 0001" in caplog.text  # the child's output, in this process's log
    finally:
        engine.dispose()


def test_a_new_migration_script_makes_the_schema_behind(probe, database_url):
    engine = probe.open(database_url)
    try:
        versions = Path(str(resources.files(probe.migrations) / "versions"))
        (versions / "0002_names.py").write_text(SECOND_MIGRATION)
        assert head_revisions(probe.migrations) == {"0002"}
        assert not probe.is_current(engine)
        assert probe.migrate(engine, in_child=True) is True
        assert probe.is_current(engine)
        assert "name" in {column["name"] for column in sa.inspect(engine).get_columns("probe_things")}
    finally:
        engine.dispose()


def test_a_failed_migration_in_the_child_fails_the_start_with_its_error(probe, database_url, monkeypatch, caplog):
    monkeypatch.setenv("PROBE_MIGRATION_FAILS", "1")
    engine = make_engine(database_url)
    try:
        with caplog.at_level(logging.INFO, logger="medcode_common.migrations"):
            with pytest.raises(MigrationError) as failed:
                probe.migrate(engine, in_child=True)
        assert "exited with status 1" in str(failed.value)
        assert "RuntimeError: probe migration failed on purpose" in str(failed.value)
        assert "RuntimeError: probe migration failed on purpose" in caplog.text
        assert not probe.is_current(engine)
    finally:
        engine.dispose()


def test_the_migration_command_line_says_what_it_needs(monkeypatch, capsys):
    from medcode_common.migrations import main

    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["upgrade", "accounts.migrations"]) == 2
    assert "usage:" in capsys.readouterr().err
    assert main(["upgrade", "accounts.migrations", "alembic_version_accounts"]) == 2
    assert "DATABASE_URL" in capsys.readouterr().err


SERVICE_MIGRATIONS = [
    "accounts.migrations",
    "assistant.migrations",
    "careers.migrations",
    "codes.migrations",
    "metering.migrations",
    "mail_ingress.migrations",
]


@pytest.mark.parametrize("package", SERVICE_MIGRATIONS)
def test_the_heads_read_from_the_scripts_are_alembics(package):
    """The start-up check cannot drift from the migration scripts: it reads the heads
    from them, and finds the ones Alembic finds."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(package, "unused"))
    assert head_revisions(package) == set(script.get_heads())


@pytest.mark.parametrize(
    "statement",
    [
        'revision = "00" + "01"',
        'depends_on = "0000"',
        'branch_labels = ("probe",)',
        'down_revision = "elsewhere"',
        "def unfinished(:",
    ],
)
def test_only_alembic_tells_the_heads_of_scripts_that_are_not_plain(probe, statement, database_url):
    """Then the check says "behind", and the migration (Alembic) decides."""
    script = resources.files(probe.migrations) / "versions" / "0001_things.py"
    Path(str(script)).write_text(MIGRATION + "\n" + statement + "\n")
    assert head_revisions(probe.migrations) is None
    engine = make_engine(database_url)
    try:
        assert not probe.is_current(engine)
    finally:
        engine.dispose()


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
