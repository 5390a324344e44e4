"""Micro-benchmark of the embedded search engine, in-process (no broker, no gateway): today's
engine beside the baseline, the engine as it was when issue 14 was filed (commit d31bf32), in
one run, over the same queries and built from the same releases.

    .venv/bin/python -m benchmarks.search_bench [--runs 300] [--systems ICD10CM,ICD10PCS,HCPCS]

Each engine runs in a subprocess of its own (the baseline from `git archive` of BASELINE's
services/codes, libs and contracts, first on PYTHONPATH), builds its tantivy index in a
temporary directory the way its `codes.cli load` would (baseline: ICD-10-CM with the
Alphabetic Index lay terms; current: also the External Cause Index, the Table of Drugs, the
PCS Index and Definitions), then times `search()` (plan + engine + highlight + the reply: the
baseline's a model, which its service then dumped; today's the JSON form itself). The two
take turns per query, in rounds, so load from elsewhere on the machine hits both alike.
Goal (issue 14): each query's p50 at most GOAL x the baseline's. Nothing is asserted.

`measure(runs)` returns the rows (for benchmarks.run); without the baseline commit (a shallow
clone) it says so and measures the current engine alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BASELINE = "d31bf32"  # the embedded engine when issue 14 was filed
GOAL = 1.5  # p50 per query <= GOAL x the baseline's
ROUNDS = 5  # turns per query: each engine runs runs/ROUNDS searches per turn
REPO = Path(__file__).resolve().parents[1]
SYSTEMS = "ICD10CM,ICD10PCS,HCPCS"
QUERIES = [
    ("exact code", "K22.0"),
    ("code prefix", "K22"),
    ("one word", "achalasia"),
    ("as-you-type prefix", "achal"),
    ("typo", "achalazia"),
    ("two words", "cardia achalasia"),
    ("abbreviation", "CHF"),
    ("broad two words", "fracture femur"),
    ("abbreviation + word", "fx femur"),
    ("three words, stopword", "fractures of femur"),
    ("index term", "hypertension"),
    ("index term, two words", "heart failure"),
    ("everyday words", "flu vaccine"),
    ("lay term, see reference", "swollen glands"),
    ("procedure name", "gallbladder removal"),
    ("supply name", "knee brace"),
]


def measure(runs: int = 300, systems: str = SYSTEMS, first: int = 20) -> list[dict[str, Any]]:
    """One row per query, then one for the index build:
    {"name", "query", "unit" ("ms" p50 or "s"), "old", "new", "ratio" (new/old), "goal",
    "hits_old", "hits_new"}; "old", "ratio" and "hits_old" are None without the baseline."""
    mirror = _mirror()
    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        baseline = _baseline_tree(Path(tmp) / "baseline")
        engines: dict[str, _Worker] = {}
        try:
            # One build at a time: on a shared machine, concurrent builds would time each other.
            if baseline is not None:
                engines["old"] = _Worker("baseline", mirror, systems, Path(tmp) / "old-index", baseline)
            engines["new"] = _Worker("current", mirror, systems, Path(tmp) / "new-index")
            timings: dict[str, dict[str, list[float]]] = {name: {} for name in engines}
            hits: dict[str, dict[str, int]] = {name: {} for name in engines}
            per_turn = max(1, runs // ROUNDS)
            for _, query in QUERIES:
                for name, worker in engines.items():
                    hits[name][query] = worker.ask({"query": query, "first": first, "runs": 0})["hits"]
                for turn in range(ROUNDS):
                    order = list(engines.items())
                    for name, worker in order if turn % 2 == 0 else reversed(order):
                        answer = worker.ask({"query": query, "first": first, "runs": per_turn})
                        timings[name].setdefault(query, []).extend(answer["timings"])
        finally:
            for worker in engines.values():
                worker.close()
    rows: list[dict[str, Any]] = []
    for kind, query in QUERIES:
        new = statistics.median(timings["new"][query]) * 1000
        old = statistics.median(timings["old"][query]) * 1000 if "old" in engines else None
        rows.append(
            {
                "name": kind,
                "query": query,
                "unit": "ms",
                "old": old,
                "new": new,
                "ratio": new / old if old else None,
                "goal": GOAL,
                "hits_old": hits["old"][query] if "old" in engines else None,
                "hits_new": hits["new"][query],
            }
        )
    old_build = engines["old"].build_seconds if "old" in engines else None
    new_build = engines["new"].build_seconds
    rows.append(
        {
            "name": "index build",
            "query": "",
            "unit": "s",
            "old": old_build,
            "new": new_build,
            "ratio": new_build / old_build if old_build else None,
            "goal": None,
            "hits_old": engines["old"].documents if "old" in engines else None,
            "hits_new": engines["new"].documents,
        }
    )
    return rows


def report(rows: list[dict[str, Any]]) -> None:
    def number(value: float | None, width: int, digits: int) -> str:  # "-" when not measured
        return f"{value:{width}.{digits}f}" if value is not None else f"{'-':>{width}}"

    print(
        f"\nembedded search p50 per query: baseline ({BASELINE}) beside the current engine "
        "(index build row: seconds and documents)"
    )
    print(
        f"{'query kind':24} {'query':22} {'old ms':>8} {'new ms':>8} {'ratio':>6} {'goal':>7} "
        f"{'old hits':>8} {'new hits':>8}"
    )
    for row in rows:
        goal = f"<={row['goal']}x" if row["goal"] else ""
        unit = "" if row["unit"] == "ms" else f" ({row['unit']})"
        label = (row["name"] + unit)[:24]
        digits = 3 if row["unit"] == "ms" else 1
        ratio = f"{row['ratio']:5.2f}x" if row["ratio"] is not None else f"{'-':>6}"
        hits_old = row["hits_old"] if row["hits_old"] is not None else "-"
        print(
            f"{label:24} {row['query']!r:22} {number(row['old'], 8, digits)} {number(row['new'], 8, digits)} "
            f"{ratio} {goal:>7} {hits_old:>8} {row['hits_new']:>8}"
        )
    compared = [r for r in rows if r["goal"] and r["ratio"] is not None]
    over = [r["query"] for r in compared if r["ratio"] > r["goal"] and r["hits_old"]]
    empty = [r["query"] for r in compared if not r["hits_old"]]
    if compared:
        print(
            f"queries over the goal: {', '.join(map(repr, over)) if over else 'none'}"
            + (
                f"; the baseline found nothing for {', '.join(map(repr, empty))} (its time is that of an "
                "empty answer, not of the same work)"
                if empty
                else ""
            )
        )


# -- the two engines, each in a process of its own ------------------------------------------------


def _mirror() -> Path:
    from medcode_common.settings import load_settings

    return Path(load_settings().DATA_MIRROR or REPO.parent / "shared" / "data")


def _baseline_tree(target: Path) -> Path | None:
    """BASELINE's services/codes, libs and contracts under `target`, or None (with a message)
    when this clone does not have that commit."""
    try:
        found = (
            subprocess.run(
                ["git", "-C", str(REPO), "cat-file", "-e", f"{BASELINE}^{{commit}}"], capture_output=True
            ).returncode
            == 0
        )
    except OSError:  # no git
        found = False
    if not found:
        print(
            f"search bench: the baseline commit {BASELINE} is not in this clone (a shallow clone, or no git? "
            "`git fetch --unshallow` brings it): measuring the current engine alone, without the "
            "comparison",
            file=sys.stderr,
        )
        return None
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", BASELINE, "services/codes", "libs", "contracts"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


class _Worker:
    """A subprocess serving one engine: JSON lines in, JSON lines out (see serve())."""

    def __init__(self, engine: str, mirror: Path, systems: str, index: Path, tree: Path | None = None):
        env = dict(os.environ)
        if tree is not None:  # the baseline's packages before the installed (current) ones
            paths = [str(tree / "services" / "codes"), str(tree / "libs"), str(tree / "contracts")]
            env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in [env.get("PYTHONPATH")] if p])
        self._process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--serve",
                engine,
                "--mirror",
                str(mirror),
                "--systems",
                systems,
                "--index",
                str(index),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            cwd=str(index.parent),
        )
        ready = self._read()
        self.build_seconds: float = ready["build_s"]
        self.documents: int = ready["documents"]
        self.engine = engine

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        return self._read()

    def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the search bench worker stopped (exit code {self._process.wait()})")
        return json.loads(line)

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _build(engine: str, mirror: Path, systems: str, index: Path):
    """The engine's backend with the releases indexed as its `codes.cli load` indexes them."""
    from codes.search.embedded import EmbeddedBackend

    if engine == "baseline":  # the baseline tree's module names
        from codes.importers import hcpcs, icd10cm, icd10pcs
    else:
        from codes.code_sets import hcpcs, icd10cm, icd10pcs

    importers = {"ICD10CM": icd10cm, "ICD10PCS": icd10pcs, "HCPCS": hcpcs}
    backend = EmbeddedBackend(index)
    for system in systems.split(","):
        importer = importers[system.strip()]
        meta, records = importer.read_edition(importer.find_release(mirror))
        if engine == "baseline":
            if importer is icd10cm:  # the baseline bench's own build (ICD-10-CM Alphabetic Index)
                from codes.domain import code_key
                from codes.loading import with_lay_terms
                from codes.rules.readers import read_index_lay_terms

                found = sorted(mirror.glob("icd10cm_index/ICD10CM_*_Index_flattened.csv*"))
                records = with_lay_terms(records, ((code_key(t.code), t.term) for t in read_index_lay_terms(found[-1])))
        else:
            from codes.loading import with_mirror_terms

            records = with_mirror_terms(meta.system, records, mirror)
        backend.replace_system(meta.system.value, meta.fingerprint, records)
    return backend


def serve(engine: str, mirror: Path, systems: str, index: Path) -> None:
    """Worker: build, say {"build_s", "documents"}, then answer {"query", "first", "runs"} lines
    with {"hits", "timings"} (seconds per search) until stdin closes."""
    from medcode_contracts.codes import SearchRequest

    out = sys.stdout
    sys.stdout = sys.stderr  # only the protocol on stdout
    started = time.perf_counter()
    backend = _build(engine, mirror, systems, index)
    out.write(json.dumps({"build_s": time.perf_counter() - started, "documents": backend._searcher.num_docs}) + "\n")
    out.flush()
    for line in sys.stdin:
        ask = json.loads(line)
        request = SearchRequest(query=ask["query"], first=ask["first"])
        reply = backend.search(request)  # the baseline's a SearchResult, today's its JSON form
        hits = reply["total_count"] if isinstance(reply, dict) else reply.total_count
        timings = []
        for _ in range(ask["runs"]):
            t0 = time.perf_counter()
            backend.search(request)
            timings.append(time.perf_counter() - t0)
        out.write(json.dumps({"hits": hits, "timings": timings}) + "\n")
        out.flush()
    backend.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="searches per query and engine")
    parser.add_argument("--systems", default=SYSTEMS)
    parser.add_argument("--first", type=int, default=20)
    parser.add_argument("--serve", choices=("baseline", "current"), help=argparse.SUPPRESS)
    parser.add_argument("--mirror", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--index", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.mirror, args.systems, args.index)
        return
    report(measure(args.runs, args.systems, args.first))


if __name__ == "__main__":
    main()
