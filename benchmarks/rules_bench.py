"""Coding-rules benchmark: load time of the full NCCI PTP practitioner table and latency of
a 10-line check_claim in-process against the loaded database.

    .venv/bin/python benchmarks/rules_bench.py [--database-url URL] [--runs 2000]

`make bench` calls bench_rules(), which also times a 10-line checkClaim through GraphQL.

Default database: a fresh SQLite file in a temporary directory. Reads DATA_MIRROR (or
../shared/data). Prints one line per measure.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from codes.rules import ncci_mue, ncci_ptp
from codes.rules.engine import CodingRules
from codes.rules.storage import RulesStore
from codes.storage import CodeStore
from medcode_common.db import make_engine

PTP = "ncci_ptp/medicare_ptp_practitioner_v302r0_2024q3_noeffdate.csv.gz"
MUE = "ncci_mue/MCR_MUE_PractitionerServices_Eff_04-01-2026.csv"

# A busy office claim: E/M visit, injections, joint injection, labs, ECG, vaccines, debridement.
CLAIM: dict[str, Any] = {
    "date_of_service": "2024-08-01",
    "setting": "practitioner",
    "lines": [
        {"code": "99213", "modifiers": ["25"]},
        {"code": "96372"},
        {"code": "20610", "modifiers": ["RT"]},
        {"code": "36415"},
        {"code": "93000"},
        {"code": "90471"},
        {"code": "90686"},
        {"code": "G0008"},
        {"code": "11042"},
        {"code": "97597", "units": 2},
    ],
}


def measure_service(mirror: Path, database_url: str | None = None, runs: int = 2000) -> None:
    """Load the full PTP practitioner table into a fresh database, then time check_claim
    in-process (the service's own code path, without the broker)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'codes.sqlite3'}"
        engine = make_engine(url)
        CodeStore(engine).migrate()
        store = RulesStore(engine)

        started = time.perf_counter()
        with store.bulk_load():  # as codes.cli load does
            result = _load_new_edition(store, "PTP", PTP, ncci_ptp.read_ptp(mirror / PTP))
        load_seconds = time.perf_counter() - started
        rows = result.edition.counts["rule_ptp_edits"]
        print(
            f"PTP practitioner full load ({engine.dialect.name}): {rows:,} rows in {load_seconds:.1f} s "
            f"({rows / load_seconds:,.0f} rows/s)"
        )
        _load_new_edition(store, "MUE", MUE, ncci_mue.read_mue(mirror / MUE))

        found = measure_claim_check(store, runs)
        baseline = (
            f"; indexed pair lookup in plain SQLite p50 {found['sqlite_p50_ms']:.3f} ms, ratio {found['ratio']:.1f}x"
            if found.get("sqlite_p50_ms")
            else ""
        )
        print(
            f"check_claim 10 lines in-process: p50 {found['p50_ms']:.3f} ms, p99 {found['p99_ms']:.3f} ms "
            f"over {runs} runs ({found['findings']} findings; goal <= 0.2 ms){baseline}"
        )
        engine.dispose()


def _load_new_edition(store: RulesStore, kind: str, source: str, rows):
    """A practitioner edition under a fingerprint never seen before, so it is always loaded."""
    fingerprint = f"bench-{time.time()}"
    return store.load(
        kind=kind, setting="practitioner", name="bench", source=source, fingerprint=fingerprint, rows=rows
    )


def _p50_p99(run, runs: int) -> tuple[float, float]:
    run()  # warm up
    timings = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run()
        timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    return statistics.median(timings), timings[max(0, int(len(timings) * 0.99) - 1)]


def measure_claim_check(store: RulesStore, runs: int = 2000) -> dict:
    """check_claim of the 10-line CLAIM in-process (the service's own code path, without the
    broker) against its floor measured beside it: the same indexed pair lookup (the claim's
    codes, both directions, in force on the date of service) through plain sqlite3 on the
    same file (SQLite databases only). Milliseconds: {"p50_ms", "p99_ms", "findings",
    "sqlite_p50_ms", "ratio"}."""
    rules = CodingRules(store)
    check = rules.check_claim(CLAIM)
    p50, p99 = _p50_p99(lambda: rules.check_claim(CLAIM), runs)
    found: dict = {"p50_ms": p50, "p99_ms": p99, "findings": len(check.findings)}
    url = store.engine.url
    edition = store.current_edition("PTP", CLAIM["setting"])
    if url.get_backend_name() == "sqlite" and url.database and edition is not None:
        codes = list(dict.fromkeys(line["code"] for line in CLAIM["lines"]))
        marks = ", ".join("?" * len(codes))
        sql = (
            f"SELECT column1, column2, effective_from, deleted_on, modifier_indicator, rationale "
            f"FROM rule_ptp_edits WHERE setting = ? AND column1 IN ({marks}) AND column2 IN ({marks}) "
            f"AND edition_id = ? AND modifier_indicator <> 9 AND (effective_from IS NULL OR effective_from <= ?) "
            f"AND (deleted_on IS NULL OR deleted_on >= ?)"
        )
        dos = CLAIM["date_of_service"]
        params = [CLAIM["setting"], *codes, *codes, edition.id, dos, dos]
        plain = sqlite3.connect(url.database)
        try:
            found["sqlite_p50_ms"], _ = _p50_p99(lambda: plain.execute(sql, params).fetchall(), runs)
        finally:
            plain.close()
        found["ratio"] = p50 / found["sqlite_p50_ms"]
    return found


CHECK_CLAIM = """query($input: ClaimInput!) { checkClaim(input: $input) {
  clean findings { kind codes message modifierAllowed source } } }"""


def _graphql_claim() -> dict:
    return {
        "dateOfService": CLAIM["date_of_service"],
        "setting": CLAIM["setting"],
        "lines": [
            {"code": line["code"], "modifiers": line.get("modifiers", []), "units": line.get("units", 1)}
            for line in CLAIM["lines"]
        ],
    }


def measure_graphql(base_url: str, seconds: float = 5.0) -> None:
    """A 10-line checkClaim through the gateway's HTTP endpoint, one request at a time."""
    import httpx

    body = {"query": CHECK_CLAIM, "variables": {"input": _graphql_claim()}}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for _ in range(20):  # warm up
            answer = client.post("/graphql", json=body).json()
            if answer.get("errors"):
                raise RuntimeError(f"checkClaim failed: {answer['errors']}")
        timings = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            client.post("/graphql", json=body).raise_for_status()
            timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    print(
        f"checkClaim 10 lines full stack (GraphQL, concurrency 1): p50 {statistics.median(timings):.2f} ms, "
        f"p99 {timings[max(0, int(len(timings) * 0.99) - 1)]:.2f} ms over {len(timings)} requests "
        f"({len(answer['data']['checkClaim']['findings'])} findings)"
    )


def bench_rules(base_url: str, seconds: float = 5.0) -> None:
    """What `make bench` (benchmarks/run.py) adds: checkClaim through the running stack,
    then the PTP load and the in-process check on a fresh database."""
    print("\ncoding rules")
    measure_graphql(base_url, seconds)
    measure_service(_mirror())


def _mirror() -> Path:
    return Path(os.environ.get("DATA_MIRROR") or Path(__file__).resolve().parents[2] / "shared" / "data")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    measure_service(_mirror(), args.database_url, args.runs)


if __name__ == "__main__":
    main()
