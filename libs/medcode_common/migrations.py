"""Alembic for the services: each service keeps its migrations in `<package>/migrations`
and its own version table (`alembic_version_<service>`), so several services can share one
PostgreSQL database without seeing each other's history.

    SCHEMA = Schema.of("accounts")   # accounts.migrations, alembic_version_accounts
    SCHEMA.upgrade(engine)

Services migrate when they start (medcode_common.nameko_storage.Storage), command lines
when they open the database (`SCHEMA.open(url)`). Replicas starting together take a lock
first (a PostgreSQL advisory lock, or a lock file beside the SQLite database), so only one
of them runs a migration and the others then find the schema current.

A service's `migrations/env.py` is three lines: `from medcode_common.migrations import
run_env; run_env()`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config


def alembic_config(package: str, version_table: str, connection: sa.Connection | None = None) -> Config:
    """An in-memory Alembic config (no alembic.ini) for the migrations in `package`."""
    config = Config()
    config.set_main_option("script_location", str(resources.files(package)))
    config.attributes["version_table"] = version_table
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextlib.contextmanager
def _migration_lock(engine: sa.Engine, name: str):
    if engine.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    lock_path = Path(f"{database}.{name}.migrate-lock")
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: sa.Engine, package: str, version_table: str, revision: str = "head") -> None:
    """Bring the service's tables up to `revision` (idempotent)."""
    with _migration_lock(engine, version_table):
        with engine.begin() as conn:
            command.upgrade(alembic_config(package, version_table, conn), revision)


def downgrade(engine: sa.Engine, package: str, version_table: str, revision: str = "base") -> None:
    with _migration_lock(engine, version_table):
        with engine.begin() as conn:
            command.downgrade(alembic_config(package, version_table, conn), revision)


@dataclass(frozen=True)
class Schema:
    """A service's tables: the database they live in (`DATA_DIR/<database>.sqlite3`, or
    DATABASE_URL), the package of their Alembic migrations and their version table."""

    database: str
    migrations: str
    version_table: str

    @classmethod
    def of(cls, service: str) -> Schema:
        """The usual layout: `<service>.migrations`, `alembic_version_<service>`."""
        return cls(service, f"{service}.migrations", f"alembic_version_{service}")

    def upgrade(self, engine: sa.Engine, revision: str = "head") -> None:
        upgrade(engine, self.migrations, self.version_table, revision)

    def downgrade(self, engine: sa.Engine, revision: str = "base") -> None:
        downgrade(engine, self.migrations, self.version_table, revision)

    def open(self, url: str) -> sa.Engine:
        """A new engine on `url` with the schema brought up to date (command lines, the
        loader); the caller disposes of it."""
        from .db import make_engine

        engine = make_engine(url)
        try:
            self.upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        return engine


def run_env() -> None:
    """Body of every service's migrations/env.py. Uses the connection handed over by
    `upgrade`; when run from the `alembic` command line instead, connects to the URL given
    as `-x url=...` or in `sqlalchemy.url` of the given alembic.ini."""
    from alembic import context

    config = context.config
    version_table = config.attributes.get("version_table") or config.get_main_option("version_table")
    if not version_table:
        raise RuntimeError("set version_table (e.g. alembic_version_accounts) for this service")
    connection = config.attributes.get("connection")
    if connection is None:
        from .db import make_engine

        url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("give the database as -x url=... or sqlalchemy.url")
        engine = make_engine(url)
        with engine.begin() as connection:
            _run(context, connection, version_table)
        return
    _run(context, connection, version_table)


def _run(context, connection: sa.Connection, version_table: str) -> None:
    context.configure(
        connection=connection,
        version_table=version_table,
        # SQLite cannot ALTER most things in place: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
