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

A long-running process (a service, the mail ingress) never imports Alembic: some 9 MB of
its memory for the rest of its life, for work done once at start (issue 13). It reads the
version table and compares it with the head revisions stated in the migration scripts
(`head_revisions`, no Alembic either); only when they differ does it run the upgrade, in
a short-lived child process (`Schema.upgrade_in_child`):

    python -m medcode_common.migrations upgrade accounts.migrations alembic_version_accounts

(the database URL in DATABASE_URL), which takes the same lock.
"""

from __future__ import annotations

import ast
import collections
import contextlib
import fcntl
import hashlib
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:  # Alembic is imported only where a migration runs (see above)
    from alembic.config import Config

log = logging.getLogger(__name__)


class MigrationError(RuntimeError):
    """The child process that migrates a schema failed; the message ends with its output."""


def alembic_config(package: str, version_table: str, connection: sa.Connection | None = None) -> Config:
    """An in-memory Alembic config (no alembic.ini) for the migrations in `package`."""
    from alembic.config import Config

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
    from alembic import command

    with _migration_lock(engine, version_table):
        with engine.begin() as conn:
            command.upgrade(alembic_config(package, version_table, conn), revision)


def downgrade(engine: sa.Engine, package: str, version_table: str, revision: str = "base") -> None:
    from alembic import command

    with _migration_lock(engine, version_table):
        with engine.begin() as conn:
            command.downgrade(alembic_config(package, version_table, conn), revision)


# What a migration script states about its place in the history (alembic.script.Script).
_SCRIPT_FIELDS = ("revision", "down_revision", "branch_labels", "depends_on")


def head_revisions(package: str) -> frozenset[str] | None:
    """The head revisions of the migration scripts in `package`/versions, read from their
    source without importing Alembic or the scripts: the files Alembic's script directory
    loads (every `*.py` there but `__init__*` and editors' `.#*`), each one's `revision`
    and `down_revision`. None when any script states them other than as plain literals, or
    has branch labels or dependencies: then only Alembic can tell."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for script in (resources.files(package) / "versions").iterdir():
        if not script.name.endswith(".py") or script.name.startswith(("__init__", ".#")):
            continue
        fields = _literal_fields(script.read_text(encoding="utf-8"))
        if fields is None:
            return None
        revision, down = fields.get("revision"), fields.get("down_revision")
        if not isinstance(revision, str) or revision in revisions:
            return None
        if fields.get("branch_labels") or fields.get("depends_on"):
            return None
        if isinstance(down, str):
            down = (down,)
        if down is not None and not (isinstance(down, (tuple, list)) and all(isinstance(d, str) for d in down)):
            return None
        revisions.add(revision)
        downs.update(down or ())
    if not revisions or not downs <= revisions:
        return None
    return frozenset(revisions - downs)


def _literal_fields(source: str) -> dict[str, object] | None:
    """The module-level assignments of _SCRIPT_FIELDS in `source`; None when one of them is
    not a literal (or the script does not parse: Alembic says why)."""
    fields: dict[str, object] = {}
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None
    for node in body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in _SCRIPT_FIELDS:
                try:
                    fields[target.id] = ast.literal_eval(value)
                except (ValueError, TypeError, SyntaxError, RecursionError):
                    return None
    return fields


def current_revisions(engine: sa.Engine, version_table: str) -> frozenset[str]:
    """The revisions `version_table` records (none before the first migration)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(version_table):
            return frozenset()
        versions = sa.table(version_table, sa.column("version_num", sa.String))
        return frozenset(conn.execute(sa.select(versions.c.version_num)).scalars())


def _in_memory(engine: sa.Engine) -> bool:
    return engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")


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
        """Alembic's upgrade, in this process (tests, going to a given revision)."""
        upgrade(engine, self.migrations, self.version_table, revision)

    def downgrade(self, engine: sa.Engine, revision: str = "base") -> None:
        downgrade(engine, self.migrations, self.version_table, revision)

    def is_current(self, engine: sa.Engine) -> bool:
        """The version table records exactly the scripts' heads (read without Alembic)."""
        heads = head_revisions(self.migrations)
        return heads is not None and current_revisions(engine, self.version_table) == heads

    def migrate(self, engine: sa.Engine, in_child: bool = False) -> bool:
        """Bring the schema up to head unless it is already there; with `in_child`, in a
        child process (`upgrade_in_child`), so that this process never imports Alembic (a
        long-running one). True when a migration ran."""
        if self.is_current(engine):
            return False
        if in_child and not _in_memory(engine):  # a child cannot see an in-memory database
            self.upgrade_in_child(engine.url)
        else:
            self.upgrade(engine)
        return True

    def upgrade_in_child(self, url: sa.URL | str) -> None:
        """`upgrade` to head in a child process (`python -m medcode_common.migrations`,
        the URL in its DATABASE_URL), under the same lock; its output goes to this
        process's log. MigrationError, ending with that output, when it fails."""
        if isinstance(url, sa.URL):
            url = url.render_as_string(hide_password=False)
        args = ["-m", "medcode_common.migrations", "upgrade", self.migrations, self.version_table]
        tail: collections.deque[str] = collections.deque(maxlen=40)
        with subprocess.Popen(
            [sys.executable, *args],
            env=dict(os.environ, DATABASE_URL=url),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as child:
            assert child.stdout is not None
            for line in child.stdout:
                tail.append(line.rstrip("\n"))
                log.info("migration of %s: %s", self.database, tail[-1])
        if child.returncode != 0:
            output = "\n".join(tail)
            raise MigrationError(
                f"migrating {self.database} ({self.migrations}, {self.version_table}) failed: "
                f"`python {' '.join(args)}` exited with status {child.returncode}:\n{output}"
            )

    def open(self, url: str, in_child: bool = False) -> sa.Engine:
        """A new engine on `url` with the schema brought up to date (`migrate`: command
        lines, the loader, the mail ingress); the caller disposes of it."""
        from .db import make_engine

        engine = make_engine(url)
        try:
            self.migrate(engine, in_child=in_child)
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


def main(argv: list[str] | None = None) -> int:
    """`python -m medcode_common.migrations upgrade <package> <version_table>`: the child
    process of Schema.upgrade_in_child (and an operator's way to migrate by hand)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] != "upgrade":
        print("usage: python -m medcode_common.migrations upgrade <package> <version_table>", file=sys.stderr)
        return 2
    url = os.environ.get("DATABASE_URL")
    if not url:
        print("error: set DATABASE_URL to the database to migrate", file=sys.stderr)
        return 2
    from .db import make_engine

    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    engine = make_engine(url)
    try:
        upgrade(engine, args[1], args[2])
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
