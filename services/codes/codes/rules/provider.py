"""Nameko dependency provider of the coding rules (the only nameko module of codes.rules)."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from nameko.extensions import DependencyProvider

from medcode_common.db import make_engine
from medcode_common.settings import load_settings

from .engine import CodingRules
from .storage import RulesStore

log = logging.getLogger(__name__)


class CodingRulesProvider(DependencyProvider):
    """One CodingRules (store + in-process cache) per container, on the codes database.
    The schema comes from the codes migrations, which CodeStoreProvider runs at start."""

    rules: CodingRules

    def setup(self):
        settings = load_settings()
        self.rules = CodingRules(RulesStore(make_engine(settings.database_url("codes"))))
        try:
            # Build the cache before the first request: on a busy machine it takes seconds.
            self.rules.snapshot()
        except sa.exc.SQLAlchemyError as exc:   # schema not migrated yet: the first request builds it
            log.info("coding rules not cached at start (%s)", type(exc).__name__)

    def get_dependency(self, worker_ctx) -> CodingRules:
        return self.rules

    def stop(self):
        self.rules.store.engine.dispose()
