"""Dependency providers of the metering service: the domain object over its database,
and the outbox relay."""

from __future__ import annotations

from medcode_common.nameko_storage import EventRelay, Storage
from medcode_contracts import metering as contract

from . import storage
from .config import load_metering_settings
from .domain import Metering, Quotas


class MeteringProvider(Storage):
    """Migrates the schema at start and hands every worker the same `Metering`."""

    schema = storage.SCHEMA

    def build(self, engine) -> Metering:
        settings = load_metering_settings()
        return Metering(
            storage.MeterStore(engine, Quotas.from_settings(settings)),
            retention_interval=settings.METERING_RETENTION_INTERVAL_SECONDS,
        )


def metering_events() -> EventRelay:
    return EventRelay(contract.SERVICE, storage.outbox)
