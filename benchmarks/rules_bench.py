"""Coding-rules benchmark: load time of the full NCCI PTP practitioner table and latency of
a 10-line check_claim in-process against the loaded database.

    .venv/bin/python benchmarks/rules_bench.py [--database-url URL] [--runs 2000]

Default database: a fresh SQLite file in a temporary directory. Reads DATA_MIRROR (or
../shared/data). Prints one line per measure.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from medcode_common.db import make_engine

from codes.rules import readers
from codes.rules.engine import CodingRules
from codes.rules.storage import RulesStore
from codes.storage import CodeStore

PTP = "ncci_ptp/medicare_ptp_practitioner_v302r0_2024q3_noeffdate.csv.gz"
MUE = "ncci_mue/MCR_MUE_PractitionerServices_Eff_04-01-2026.csv"

# A busy office claim: E/M visit, injections, joint injection, labs, ECG, vaccines, debridement.
CLAIM = {"date_of_service": "2024-08-01", "setting": "practitioner", "lines": [
    {"code": "99213", "modifiers": ["25"]}, {"code": "96372"}, {"code": "20610", "modifiers": ["RT"]},
    {"code": "36415"}, {"code": "93000"}, {"code": "90471"}, {"code": "90686"}, {"code": "G0008"},
    {"code": "11042"}, {"code": "97597", "units": 2}]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    mirror = Path(os.environ.get("DATA_MIRROR") or Path(__file__).resolve().parents[2] / "shared" / "data")
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'codes.sqlite3'}"
        engine = make_engine(url)
        CodeStore(engine).migrate()
        store = RulesStore(engine)

        started = time.perf_counter()
        result = store.load(kind="PTP", setting="practitioner", name="bench", source=PTP,
                            fingerprint=f"bench-{time.time()}", rows=readers.read_ptp(mirror / PTP))
        load_seconds = time.perf_counter() - started
        rows = result.edition.counts["rule_ptp_edits"]
        print(f"PTP practitioner full load ({engine.dialect.name}): {rows:,} rows in {load_seconds:.1f} s "
              f"({rows / load_seconds:,.0f} rows/s)")
        store.load(kind="MUE", setting="practitioner", name="bench", source=MUE,
                   fingerprint=f"bench-{time.time()}", rows=readers.read_mue(mirror / MUE))

        rules = CodingRules(store)
        check = rules.check_claim(CLAIM)     # warms the cache
        timings = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            rules.check_claim(CLAIM)
            timings.append((time.perf_counter() - t0) * 1000)
        timings.sort()
        p50 = statistics.median(timings)
        p99 = timings[int(len(timings) * 0.99) - 1]
        print(f"check_claim 10 lines in-process: p50 {p50:.3f} ms, p99 {p99:.3f} ms over {args.runs} runs "
              f"({len(check.findings)} findings; target <= 1 ms)")
        engine.dispose()


if __name__ == "__main__":
    main()
