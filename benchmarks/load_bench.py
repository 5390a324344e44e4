"""Loading the NCCI PTP practitioner table with the platform's loader beside plain SQLite,
and a 10-line claim check beside one indexed pair lookup in plain SQLite.

    .venv/bin/python -m benchmarks.load_bench

`make bench` (benchmarks/run.py) calls measure_ptp_load() and measure_claim_check().
The plain-SQLite baseline is the floor of the storage engine: the same file read with
the csv module, `executemany` of tuples into a table with the same columns in one
transaction, then the same two indexes the platform's table has.
"""
from __future__ import annotations

import csv
import gzip
import os
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.rules_bench import CLAIM, MUE, PTP

PLAIN_DB = "plain.sqlite3"
PLATFORM_DB = "codes.sqlite3"


@dataclass(frozen=True)
class PtpLoad:
    rows: int
    loader_seconds: float       # the platform's loader (RulesStore.load), into a fresh database
    sqlite_seconds: float       # plain SQLite executemany + index


@dataclass(frozen=True)
class ClaimCheck:
    lines: int
    findings: int
    service_p50_ms: float       # CodingRules.check_claim, in-process
    sqlite_p50_ms: float        # the claim's pairs in one indexed query on the plain table


def mirror() -> Path:
    return Path(os.environ.get("DATA_MIRROR") or Path(__file__).resolve().parents[2] / "shared" / "data")


def plain_sqlite_load(ptp_file: Path, database: Path) -> int:
    """The floor: tuples straight from the CSV into SQLite, indexes built after the rows."""
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE ptp (setting TEXT NOT NULL, column1 TEXT NOT NULL, column2 TEXT NOT NULL, "
                       "effective_from TEXT, deleted_on TEXT, modifier_indicator INTEGER NOT NULL, rationale TEXT)")
    with gzip.open(ptp_file, "rt", newline="") as text:
        rows = csv.reader(text)
        next(rows)   # header: column_1, column_2, deletion_date, modifier_indicator, ptp_edit_rationale
        with connection:
            connection.executemany(
                "INSERT INTO ptp VALUES ('practitioner', ?, ?, NULL, ?, ?, ?)",
                ((r[0], r[1], None if r[2] == "*" else r[2], int(r[3]), r[4] or None) for r in rows))
            connection.execute("CREATE INDEX ix_ptp_pair ON ptp (setting, column1, column2)")
            connection.execute("CREATE INDEX ix_ptp_column2 ON ptp (setting, column2)")
    count = connection.execute("SELECT count(*) FROM ptp").fetchone()[0]
    connection.close()
    return count


def platform_load(ptp_file: Path, database: Path, mue_file: Path | None = None) -> tuple[int, float]:
    """The platform's loader into a fresh SQLite database: (rows, seconds). The MUE table
    is loaded after the timing, so that a claim check can run on the result."""
    from codes.rules import readers
    from codes.rules.storage import RulesStore
    from codes.storage import CodeStore
    from medcode_common.db import make_engine

    engine = make_engine(f"sqlite:///{database}")
    CodeStore(engine).migrate()
    store = RulesStore(engine)
    started = time.perf_counter()
    result = store.load(kind="PTP", setting="practitioner", name="bench", source=PTP,
                        fingerprint=f"bench-{time.time()}", rows=readers.read_ptp(ptp_file))
    seconds = time.perf_counter() - started
    if mue_file is not None:
        store.load(kind="MUE", setting="practitioner", name="bench", source=MUE,
                   fingerprint=f"bench-{time.time()}", rows=readers.read_mue(mue_file))
    engine.dispose()
    return result.edition.counts["rule_ptp_edits"], seconds


def measure_ptp_load(data_mirror: Path | None = None, workdir: Path | None = None) -> PtpLoad:
    """Both loads of the same file, one after the other, into fresh files under `workdir`
    (which keeps them for measure_claim_check; a temporary directory when None)."""
    data_mirror = data_mirror or mirror()
    with tempfile.TemporaryDirectory() as tmp:
        folder = workdir or Path(tmp)
        for name in (PLAIN_DB, PLATFORM_DB):
            for suffix in ("", "-wal", "-shm"):
                (folder / f"{name}{suffix}").unlink(missing_ok=True)
        started = time.perf_counter()
        plain_rows = plain_sqlite_load(data_mirror / PTP, folder / PLAIN_DB)
        sqlite_seconds = time.perf_counter() - started
        rows, loader_seconds = platform_load(data_mirror / PTP, folder / PLATFORM_DB, data_mirror / MUE)
    if rows != plain_rows:
        raise RuntimeError(f"the platform loaded {rows:,} PTP rows, plain SQLite {plain_rows:,}")
    return PtpLoad(rows=rows, loader_seconds=loader_seconds, sqlite_seconds=sqlite_seconds)


def _p50_ms(call, runs: int) -> float:
    call()   # warm caches
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def measure_claim_check(workdir: Path, runs: int = 2000) -> ClaimCheck:
    """check_claim on the database measure_ptp_load(workdir=...) left, beside the claim's
    pairs looked up in one indexed query on the plain table."""
    from codes.rules.engine import CodingRules
    from codes.rules.storage import RulesStore
    from medcode_common.db import make_engine

    engine = make_engine(f"sqlite:///{workdir / PLATFORM_DB}")
    rules = CodingRules(RulesStore(engine))
    findings = len(rules.check_claim(CLAIM).findings)
    service = _p50_ms(lambda: rules.check_claim(CLAIM), runs)
    engine.dispose()

    lines: list[dict] = CLAIM["lines"]  # type: ignore[assignment]
    codes = sorted({line["code"] for line in lines})
    marks = ",".join("?" * len(codes))
    pairs = (f"SELECT column1, column2, effective_from, deleted_on, modifier_indicator, rationale FROM ptp "
             f"WHERE setting = 'practitioner' AND column1 IN ({marks}) AND column2 IN ({marks})")
    connection = sqlite3.connect(workdir / PLAIN_DB)
    plain = _p50_ms(lambda: connection.execute(pairs, codes + codes).fetchall(), runs)
    connection.close()
    return ClaimCheck(lines=len(lines), findings=findings, service_p50_ms=service, sqlite_p50_ms=plain)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        load = measure_ptp_load(workdir=Path(tmp))
        print(f"PTP practitioner, {load.rows:,} rows: platform loader {load.loader_seconds:.1f} s, "
              f"plain SQLite executemany + index {load.sqlite_seconds:.1f} s "
              f"({load.loader_seconds / load.sqlite_seconds:.2f}x)")
        check = measure_claim_check(Path(tmp))
        print(f"check_claim {check.lines} lines ({check.findings} findings): p50 {check.service_p50_ms:.3f} ms "
              f"in the service, plain SQLite pair lookup {check.sqlite_p50_ms:.3f} ms")


if __name__ == "__main__":
    main()
