"""Nameko dependency provider of the coding rules (the only nameko module of codes.rules)."""
from __future__ import annotations

from nameko.extensions import DependencyProvider

from medcode_common.db import make_engine
from medcode_common.settings import load_settings

from .engine import CodingRules
from .storage import RulesStore


class CodingRulesProvider(DependencyProvider):
    """One CodingRules (store + in-process cache) per container, on the codes database.
    The schema comes from the codes migrations, which CodeStoreProvider runs at start."""

    rules: CodingRules

    def setup(self):
        settings = load_settings()
        self.rules = CodingRules(RulesStore(make_engine(settings.database_url("codes"))))

    def get_dependency(self, worker_ctx) -> CodingRules:
        return self.rules

    def stop(self):
        self.rules.store.engine.dispose()
