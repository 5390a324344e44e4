"""Load benchmark: the NCCI PTP practitioner table (2.5 M rows) loaded by the codes service's
loader, against plain `sqlite3` executemany + index of the same file, in the same run.

    .venv/bin/python -m benchmarks.load_bench [--database-url URL] [--rows N]

`measure_ptp_load()` is what `make bench` calls. Reads DATA_MIRROR (or ../shared/data).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import itertools
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from codes.rules import ncci_ptp
from codes.rules.storage import RulesStore
from codes.storage import CodeStore
from medcode_common.db import make_engine

PTP = "ncci_ptp/medicare_ptp_practitioner_v302r0_2024q3_noeffdate.csv.gz"


def default_mirror() -> Path:
    return Path(os.environ.get("DATA_MIRROR") or Path(__file__).resolve().parents[1] / ".." / "shared" / "data")


def plain_sqlite_load(path: Path, database: Path, limit: int | None = None) -> tuple[int, float]:
    """The floor: csv.reader rows straight into sqlite3 executemany in one transaction,
    then the same two indexes as rule_ptp_edits. Returns (rows, seconds)."""
    started = time.perf_counter()
    connection = sqlite3.connect(database)
    connection.execute(
        "CREATE TABLE ptp (edition_id INTEGER, setting TEXT, column1 TEXT, column2 TEXT, "
        "effective_from TEXT, deleted_on TEXT, modifier_indicator INTEGER, rationale TEXT)"
    )
    with gzip.open(path, "rt", encoding="utf-8", newline="") as text:
        rows = csv.reader(text)
        width = len(next(rows))
        deleted = width - 3  # the deletion date, then modifier indicator and rationale
        values = (
            (r[0], r[1], None if r[deleted] == "*" else r[deleted], r[deleted + 1], r[deleted + 2])
            for r in itertools.islice(rows, limit)
        )
        with connection:
            cursor = connection.executemany("INSERT INTO ptp VALUES (1, 'practitioner', ?, ?, NULL, ?, ?, ?)", values)
            count = cursor.rowcount
            connection.execute("CREATE INDEX ptp_pair ON ptp (setting, column1, column2)")
            connection.execute("CREATE INDEX ptp_column2 ON ptp (setting, column2)")
    connection.close()
    return count, time.perf_counter() - started


def service_load(path: Path, database_url: str, limit: int | None = None) -> tuple[int, float]:
    """The codes service's own loader (RulesStore.load, as `codes.cli load` runs it) into a
    freshly migrated database. Returns (rows, seconds)."""
    engine = make_engine(database_url)
    try:
        CodeStore(engine).migrate()
        store = RulesStore(engine)
        rows = ncci_ptp.read_ptp(path)
        started = time.perf_counter()
        with store.bulk_load():
            result = store.load(
                kind="PTP",
                setting="practitioner",
                name="bench",
                source=path.name,
                fingerprint=f"bench-{time.time()}",
                rows=itertools.islice(rows, limit) if limit else rows,
            )
        return result.edition.counts["rule_ptp_edits"], time.perf_counter() - started
    finally:
        engine.dispose()


def measure_ptp_load(mirror: Path | None = None, database_url: str | None = None, limit: int | None = None) -> dict:
    """Seconds to load the PTP practitioner table with our loader and with plain sqlite3,
    measured one after the other in this run: {"rows", "service_seconds",
    "sqlite_seconds", "ratio", "database"}. `database_url` (default: a fresh SQLite file)
    is where our loader writes; the baseline is always plain SQLite."""
    path = (mirror or default_mirror()) / PTP
    with tempfile.TemporaryDirectory() as tmp:
        floor_rows, floor_seconds = plain_sqlite_load(path, Path(tmp) / "plain.sqlite3", limit)
        url = database_url or f"sqlite:///{Path(tmp) / 'codes.sqlite3'}"
        rows, seconds = service_load(path, url, limit)
    if rows != floor_rows:
        raise RuntimeError(f"the loader wrote {rows:,} rows, plain sqlite3 {floor_rows:,}")
    return {
        "rows": rows,
        "service_seconds": seconds,
        "sqlite_seconds": floor_seconds,
        "ratio": seconds / floor_seconds,
        "database": url.split(":", 1)[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="where our loader writes (default: a temporary SQLite file)")
    parser.add_argument("--rows", type=int, help="load only the first N rows")
    args = parser.parse_args()
    found = measure_ptp_load(database_url=args.database_url, limit=args.rows)
    print(
        f"NCCI PTP practitioner load, {found['rows']:,} rows: {found['service_seconds']:.1f} s "
        f"({found['database']}); plain sqlite3 executemany + index {found['sqlite_seconds']:.1f} s; "
        f"ratio {found['ratio']:.2f}x (goal <= 1.5x)"
    )


if __name__ == "__main__":
    main()
