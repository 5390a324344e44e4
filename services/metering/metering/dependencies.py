"""Dependency providers of the metering service: the domain object over its database,
and the outbox relay."""
from __future__ import annotations

from nameko.extensions import DependencyProvider

from medcode_common.migrations import upgrade
from medcode_common.nameko_storage import EventRelay, dispose_engine, shared_engine
from medcode_contracts import metering as contract

from . import storage
from .config import load_metering_settings
from .domain import Metering, Quotas


class MeteringProvider(DependencyProvider):
    """Migrates the schema at start and hands every worker the same `Metering`."""

    def setup(self):
        settings = load_metering_settings()
        quotas = Quotas.from_settings(settings)
        engine = shared_engine(contract.SERVICE)
        upgrade(engine, storage.MIGRATIONS, storage.VERSION_TABLE)
        self.metering = Metering(storage.MeterStore(engine, quotas),
                                 retention_interval=settings.METERING_RETENTION_INTERVAL_SECONDS)

    def stop(self):
        dispose_engine(contract.SERVICE)

    def get_dependency(self, worker_ctx):
        return self.metering


def metering_events() -> EventRelay:
    return EventRelay(contract.SERVICE, storage.outbox)
