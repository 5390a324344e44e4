"""Nameko side of a service's database, the same for every service: one engine per process
and database URL, the schema migrated when the service starts (under the lock that keeps
replicas from migrating at once), and the outbox relay that goes with it.

    class AccountsProvider(Storage):
        schema = storage.SCHEMA              # Schema.of("accounts")

        def build(self, engine):             # what the workers get
            return Accounts(storage.AccountStore(engine), ...)

    class AccountsService:
        accounts = AccountsProvider()
        events = EventRelay("accounts", outbox)

        @rpc
        def register(self, request):
            ...                      # commit
            self.events.after_commit()

        @timer(interval=1)
        def relay_events(self):
            self.events()
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, ClassVar

import eventlet.semaphore
import sqlalchemy as sa
from nameko import config
from nameko.extensions import DependencyProvider

from .db import make_engine
from .migrations import Schema
from .nameko_outbox import OutboxRelay
from .outbox import Outbox
from .settings import DatabaseSettings, read_settings

log = logging.getLogger(__name__)

_engines: dict[str, sa.Engine] = {}
# Version tables this process has brought up to date, per database URL: the providers of
# one service that share a schema (codes' store and rules) migrate it once.
_migrated: dict[str, set[str]] = {}
_migrating = eventlet.semaphore.Semaphore(1)

# Test hook for durability tests: `MEDCODE_CRASH_AFTER_COMMIT=<service>` makes that
# service's process exit right after a change committed and before its event is relayed.
CRASH_AFTER_COMMIT = "MEDCODE_CRASH_AFTER_COMMIT"
CRASH_EXIT_STATUS = 75


def database_url(service: str) -> str:
    """Nameko config `DATABASE_URL` (tests), else DATABASE_URL / DATA_DIR (normalised there)."""
    return config.get("DATABASE_URL") or read_settings(DatabaseSettings, "database configuration").database_url(service)


# How a service's database engine is made (make_engine's keyword options, read when it is
# made), by service: set when the service's dependencies module is imported, so whichever
# provider or relay makes the process's engine first makes it alike.
_engine_options: dict[str, Callable[[], dict[str, Any]]] = {}


def make_engines_with(service: str, options: Callable[[], dict[str, Any]]) -> None:
    """The process's engine of `service`'s database is made with `options()`."""
    _engine_options[service] = options


def shared_engine(service: str) -> sa.Engine:
    """The process's engine of `service`'s database (made with its make_engines_with options)."""
    url = database_url(service)
    engine = _engines.get(url)
    if engine is None:
        options = _engine_options.get(service)
        engine = _engines[url] = make_engine(url, **(options() if options else {}))
    return engine


def migrated_engine(schema: Schema) -> sa.Engine:
    """The process's engine for `schema.database` (shared_engine), its schema brought up
    to date once per process: checked without Alembic, migrated in a child process when
    behind (replicas take turns: medcode_common.migrations), so no service holds Alembic
    in memory."""
    url = database_url(schema.database)
    engine = shared_engine(schema.database)
    with _migrating:
        done = _migrated.setdefault(url, set())
        if schema.version_table not in done:
            schema.migrate(engine, in_child=True)
            done.add(schema.version_table)
    return engine


def dispose_engine(service: str) -> None:
    url = database_url(service)
    _migrated.pop(url, None)
    engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


class Storage(DependencyProvider):
    """A service's database: at setup, the process's engine for `schema` (migrated), and
    `build(engine)` once; every worker gets what `build` returned. Subclasses set `schema`
    and override `build` (and `close`, for what `build` opened beside the engine)."""

    schema: ClassVar[Schema]

    def build(self, engine: sa.Engine) -> Any:
        return engine

    def close(self, built: Any) -> None:
        """Release what `build` opened (an index, a cache); the engine is disposed after."""

    def setup(self) -> None:
        self.engine = migrated_engine(self.schema)
        self.built = self.build(self.engine)

    def get_dependency(self, worker_ctx) -> Any:
        return self.built

    def stop(self) -> None:
        self.close(self.built)
        dispose_engine(self.schema.database)


class _Relay:
    def __init__(self, relay, service: str, outbox: Outbox):
        self._relay = relay
        self._service = service
        self._outbox = outbox
        self._added_before = outbox.added  # when the worker started

    def __call__(self) -> int:
        return self._relay()

    def after_commit(self) -> int:
        """Publish what the request just committed, without waiting for the timer. A request
        that added no outbox row (a read, a refusal) skips the relay's query: the rows of
        other requests are theirs to relay, or the timer's."""
        if os.environ.get(CRASH_AFTER_COMMIT) == self._service:
            log.error("%s=%s: exiting after commit, before relaying", CRASH_AFTER_COMMIT, self._service)
            os._exit(CRASH_EXIT_STATUS)
        if self._outbox.added == self._added_before:
            return 0
        return self._relay()


class EventRelay(OutboxRelay):
    """OutboxRelay on the service's shared engine. Relays of one process take turns, so
    the timer and a request never publish the same pending row twice."""

    def __init__(self, service: str, outbox: Outbox):
        super().__init__(get_engine=self._engine, outbox=outbox)
        self.service = service
        self._turn = eventlet.semaphore.Semaphore(1)
        self._shared_engine: sa.Engine | None = None

    def setup(self):
        super().setup()
        # Looked up once per start: finding the URL reads the settings from the
        # environment, which cost every request a sixth of its time when done per relay.
        self._shared_engine = shared_engine(self.service)

    def _engine(self) -> sa.Engine:
        if self._shared_engine is None:
            self._shared_engine = shared_engine(self.service)
        return self._shared_engine

    def get_dependency(self, worker_ctx):
        relay = super().get_dependency(worker_ctx)

        def one_at_a_time() -> int:
            with self._turn:
                return relay()

        return _Relay(one_at_a_time, self.service, self.outbox)
