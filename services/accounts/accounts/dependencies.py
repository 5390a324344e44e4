"""Dependency providers of the accounts service: the domain object over its database,
and the outbox relay."""

from __future__ import annotations

from datetime import timedelta

from eventlet import tpool
from eventlet.semaphore import Semaphore

from medcode_common.nameko_storage import EventRelay, Storage
from medcode_contracts import accounts as contract

from . import storage
from .config import load_accounts_settings
from .domain import Accounts, Passwords, Tokens


def build_accounts(engine, settings, run_blocking=None, slots=None) -> Accounts:
    passwords = Passwords(settings, run_blocking, slots) if run_blocking else Passwords(settings, slots=slots)
    tokens = Tokens(settings.TOKEN_SECRET, timedelta(seconds=settings.TOKEN_TTL_SECONDS))
    return Accounts(storage.AccountStore(engine), passwords, tokens, settings)


class AccountsProvider(Storage):
    """Migrates the schema at start and hands every worker the same `Accounts`."""

    schema = storage.SCHEMA

    def build(self, engine) -> Accounts:
        settings = load_accounts_settings()
        # argon2 takes tens of milliseconds of CPU: run it in a real thread so other
        # green threads (e.g. `authenticate`) keep being served meanwhile.
        # A green semaphore: the waiting workers yield to the others instead of blocking the hub.
        return build_accounts(
            engine, settings, run_blocking=tpool.execute, slots=Semaphore(settings.ARGON2_MAX_CONCURRENT)
        )


def account_events() -> EventRelay:
    return EventRelay(contract.SERVICE, storage.outbox)
