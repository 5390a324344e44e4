"""Fixtures of the codes unit tests that work on coding rules: a migrated rules store (SQLite
and PostgreSQL, by `database_url`), a loader of made-up PTP editions, and synthetic PTP rows."""

from __future__ import annotations

from datetime import date

import pytest

from codes.rules.rows import PtpRow
from codes.rules.storage import RulesStore
from codes.storage import CodeStore
from medcode_common.db import make_engine


@pytest.fixture
def rules_store(database_url):
    engine = make_engine(database_url)
    CodeStore(engine).migrate()  # 0001_code_sets + 0002_coding_rules
    yield RulesStore(engine)
    engine.dispose()


@pytest.fixture
def load_ptp(rules_store):
    """`load_ptp(edition, rows, setting=...)`: a made-up PTP edition (`edition` is its name,
    source and fingerprint) in `rules_store`."""

    def load(edition: str, rows, setting: str = "practitioner"):
        return rules_store.load(
            kind="PTP", setting=setting, name=edition, source=edition, fingerprint=edition, rows=rows
        )

    return load


@pytest.fixture
def synthetic_ptp() -> list[PtpRow]:
    """Both directions, dates on both sides, a stricter row for a quarter, indicator 9."""
    return [
        PtpRow("11042", "97597", date(2024, 1, 1), None, 1, "Misuse of column two code"),
        PtpRow("11042", "97597", date(2024, 4, 1), date(2024, 6, 30), 0, "stricter for a quarter"),
        PtpRow("97597", "11042", None, date(2023, 12, 31), 0, "reverse, deleted"),
        PtpRow("20610", "96372", date(2024, 7, 1), date(2024, 7, 1), 9, "no edit"),
        PtpRow("20610", "99213", None, None, 1, "open-ended, no effective date"),
        PtpRow("20610", "36415", date(2024, 10, 1), None, 0, "from Q4"),
        PtpRow("99213", "20610", date(2024, 4, 1), None, 0, "the other way from Q2"),
    ]
