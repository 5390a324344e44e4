"""Nameko side of a service's database: one engine per process and database URL, schema
migrated when the service starts, and the outbox relay that goes with it.

    class AccountsService:
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

import eventlet.semaphore
import sqlalchemy as sa
from nameko import config

from .db import make_engine
from .nameko_outbox import OutboxRelay
from .outbox import Outbox
from .settings import load_settings

log = logging.getLogger(__name__)

_engines: dict[str, sa.Engine] = {}

# Test hook for durability tests: `MEDCODE_CRASH_AFTER_COMMIT=<service>` makes that
# service's process exit right after a change committed and before its event is relayed.
CRASH_AFTER_COMMIT = "MEDCODE_CRASH_AFTER_COMMIT"
CRASH_EXIT_STATUS = 75


def database_url(service: str) -> str:
    """Nameko config `DATABASE_URL` (tests), else the platform settings."""
    return config.get("DATABASE_URL") or load_settings().database_url(service)


def shared_engine(service: str) -> sa.Engine:
    url = database_url(service)
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = make_engine(url)
    return engine


def dispose_engine(service: str) -> None:
    engine = _engines.pop(database_url(service), None)
    if engine is not None:
        engine.dispose()


class _Relay:
    def __init__(self, relay, service: str):
        self._relay = relay
        self._service = service

    def __call__(self) -> int:
        return self._relay()

    def after_commit(self) -> int:
        """Publish what the request just committed, without waiting for the timer."""
        if os.environ.get(CRASH_AFTER_COMMIT) == self._service:
            log.error("%s=%s: exiting after commit, before relaying", CRASH_AFTER_COMMIT, self._service)
            os._exit(CRASH_EXIT_STATUS)
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

        return _Relay(one_at_a_time, self.service)
