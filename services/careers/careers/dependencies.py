"""Dependency providers of the careers service: the domain object over its database and
job index, the outbox relay, and the mail relay that alert mails go through. Settings are
read in `setup()` (never at import)."""

from __future__ import annotations

import logging

from nameko.extensions import DependencyProvider

from medcode_common.mail import send_mail
from medcode_common.nameko_storage import EventRelay, Storage
from medcode_contracts import careers as contract

from . import storage
from .config import load_careers_settings
from .domain import Careers
from .search import make_index

log = logging.getLogger(__name__)


class CareersProvider(Storage):
    """Migrates the schema, brings the job index in line with the database, posts the
    sample jobs on an empty board (CAREERS_DEMO_DATA), and hands every worker the same
    `Careers`."""

    schema = storage.SCHEMA

    def build(self, engine) -> Careers:
        settings = load_careers_settings()
        careers = Careers(storage.CareerStore(engine), make_index(settings), settings)
        careers.sync_index()
        if settings.CAREERS_DEMO_DATA and careers.post_demo_jobs(only_if_empty=True):
            log.info("posted the sample jobs on the empty board (CAREERS_DEMO_DATA=false turns this off)")
        return careers

    def close(self, careers: Careers) -> None:
        careers.index.close()


class MailRelay(DependencyProvider):
    """`self.mail(message)` hands a message to SMTP_RELAY (medcode_common.mail)."""

    def setup(self):
        self.relay = load_careers_settings().SMTP_RELAY

    def get_dependency(self, worker_ctx):
        return lambda message: send_mail(message, self.relay)


def careers_events() -> EventRelay:
    return EventRelay(contract.SERVICE, storage.outbox)
