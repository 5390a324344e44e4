"""A 10-line claim check in the codes service's own code (CodingRules.check_claim,
in-process, without the broker) beside its floor: the claim's PTP pairs in one indexed
query with plain sqlite3 on the same table. Three claims: a new one of codes other claims
named before (their edits in memory), one of codes no claim named before (the indexed
query), and the same claim again (the per-claim cache).

`make bench` calls measure_claim_check() on the database benchmarks.load_bench's
measure_ptp_load(database_url=...) wrote.
"""

from __future__ import annotations

import itertools
import random
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
    """{"lines", "findings", "service_p50_ms" (a claim checked for the first time, of codes
    other claims named before), "unseen_p50_ms" (of codes no claim named before),
    "repeated_p50_ms" (the same claim again), "sqlite_p50_ms"} on the SQLite file `database`."""
    from codes.rules.engine import CodingRules
    from codes.rules.storage import RulesStore
    from medcode_common.db import make_engine

    engine = make_engine(f"sqlite:///{database}")
    rules = CodingRules(RulesStore(engine))
    try:
        findings = len(rules.check_claim(CLAIM).findings)
        while rules.warm_ptp():  # as the service's timer does after a claim
            pass
        snap = rules.snapshot()
        # A new claim: the sample's lines in another order (the same work and findings), a
        # combination no claim had, so the per-claim cache of PTP edits cannot answer it;
        # their codes' edits are in memory from the claim before (CodingRules.warm_ptp).
        rng = random.Random(13)
        orders = [dict(CLAIM, lines=rng.sample(CLAIM["lines"], len(CLAIM["lines"]))) for _ in range(64)]
        turn = itertools.cycle(orders)

        def new_claim() -> object:
            snap.pairs.clear()
            return rules.check_claim(next(turn))

        def unseen_codes() -> object:
            snap.pairs.clear()
            snap.column1.clear()
            snap.pending.clear()
            return rules.check_claim(CLAIM)

        service = p50_ms(new_claim, runs)
        if snap.pending:
            raise RuntimeError("the new claims' codes were not all in memory: the row would time the query")
        unseen = p50_ms(unseen_codes, runs)
        rules.check_claim(CLAIM)
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
        "unseen_p50_ms": unseen,
        "repeated_p50_ms": repeated,
        "sqlite_p50_ms": plain,
    }
