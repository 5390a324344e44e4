"""Nameko dependency provider of the coding rules (the only nameko module of codes.rules)."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from medcode_common.nameko_storage import Storage

from ..config import load_codes_settings
from ..storage import SCHEMA
from .engine import CodingRules
from .storage import RulesStore

log = logging.getLogger(__name__)


class CodingRulesProvider(Storage):
    """One CodingRules (store + in-process cache) per container, on the process's engine of
    the codes database; the codes migrations (run once per process) make its tables."""

    schema = SCHEMA

    def build(self, engine) -> CodingRules:
        settings = load_codes_settings()
        rules = CodingRules(
            RulesStore(engine),
            ptp_rows_kept=settings.CODES_PTP_ROWS_KEPT,
            claim_lookups_kept=settings.CODES_CLAIM_LOOKUPS_KEPT,
        )
        try:
            # Build the cache before the first request: on a busy machine it takes seconds.
            rules.snapshot()
        except sa.exc.SQLAlchemyError as exc:  # the database is away: the first request builds it
            log.info("coding rules not cached at start (%s)", type(exc).__name__)
        return rules
