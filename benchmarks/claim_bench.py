"""A 10-line claim check in the codes service's own code (CodingRules.check_claim,
in-process, without the broker) beside its floor: the claim's PTP pairs in one indexed
query with plain sqlite3 on the same table.

`make bench` calls measure_claim_check() on the database benchmarks.load_bench's
measure_ptp_load(database_url=...) wrote.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.rules_bench import CLAIM

PAIRS = (
    "SELECT column1, column2, effective_from, deleted_on, modifier_indicator, rationale FROM rule_ptp_edits "
    "WHERE setting = 'practitioner' AND column1 IN ({marks}) AND column2 IN ({marks}) AND edition_id = ?"
)


def p50_ms(call: Callable[[], object], runs: int) -> float:
    call()  # warm caches
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def measure_claim_check(database: Path, runs: int = 2000) -> dict:
    """{"lines", "findings", "service_p50_ms" (a claim checked for the first time),
    "repeated_p50_ms" (the same claim again), "sqlite_p50_ms"} on the SQLite file `database`."""
    from codes.rules.engine import CodingRules
    from codes.rules.storage import RulesStore
    from medcode_common.db import make_engine

    engine = make_engine(f"sqlite:///{database}")
    rules = CodingRules(RulesStore(engine))
    try:
        findings = len(rules.check_claim(CLAIM).findings)
        # A claim seen before is answered from the snapshot's per-claim cache of PTP edits;
        # the goal is about a claim checked for the first time, so empty that cache each run.
        pairs = rules.snapshot().pairs

        def first_check() -> object:
            pairs.clear()
            return rules.check_claim(CLAIM)

        service = p50_ms(first_check, runs)
        repeated = p50_ms(lambda: rules.check_claim(CLAIM), runs)
    finally:
        engine.dispose()

    lines: list[dict] = CLAIM["lines"]  # type: ignore[assignment]
    codes = sorted({line["code"] for line in lines})
    connection = sqlite3.connect(database)
    try:
        (edition,) = connection.execute("SELECT max(edition_id) FROM rule_ptp_edits").fetchone()
        query = PAIRS.format(marks=",".join("?" * len(codes)))
        plain = p50_ms(lambda: connection.execute(query, [*codes, *codes, edition]).fetchall(), runs)
    finally:
        connection.close()
    return {
        "lines": len(lines),
        "findings": findings,
        "service_p50_ms": service,
        "repeated_p50_ms": repeated,
        "sqlite_p50_ms": plain,
    }
