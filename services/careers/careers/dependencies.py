"""Dependency providers of the careers service: the domain object over its database and
job index, the outbox relay, and the mail relay that alert mails go through. Settings are
read in `setup()` (never at import)."""
from __future__ import annotations

import logging

from nameko.extensions import DependencyProvider

from medcode_common.mail import send_mail
from medcode_common.migrations import upgrade
from medcode_common.nameko_storage import EventRelay, dispose_engine, shared_engine
from medcode_common.settings import load_settings
from medcode_contracts import careers as contract

from . import storage
from .config import load_careers_settings
from .domain import Careers
from .search import make_index

log = logging.getLogger(__name__)


class CareersProvider(DependencyProvider):
    """Migrates the schema, brings the job index in line with the database, posts the
    sample jobs on an empty board (CAREERS_DEMO_DATA), and hands every worker the same
    `Careers`."""

    def setup(self):
        platform = load_settings()
        settings = load_careers_settings()
        engine = shared_engine(contract.SERVICE)
        upgrade(engine, storage.MIGRATIONS, storage.VERSION_TABLE)
        self.careers = Careers(storage.CareerStore(engine), make_index(platform), settings)
        self.careers.sync_index()
        if settings.CAREERS_DEMO_DATA and self.careers.post_demo_jobs(only_if_empty=True):
            log.info("posted the sample jobs on the empty board (CAREERS_DEMO_DATA=false turns this off)")

    def stop(self):
        self.careers.index.close()
        dispose_engine(contract.SERVICE)

    def get_dependency(self, worker_ctx):
        return self.careers


class MailRelay(DependencyProvider):
    """`self.mail(message)` hands a message to SMTP_RELAY (medcode_common.mail)."""

    def setup(self):
        self.relay = load_settings().SMTP_RELAY

    def get_dependency(self, worker_ctx):
        return lambda message: send_mail(message, self.relay)


def careers_events() -> EventRelay:
    return EventRelay(contract.SERVICE, storage.outbox)
