"""Micro-benchmark of the embedded search backend, in-process (no broker, no gateway).

    .venv/bin/python -m benchmarks.search_bench [--systems ICD10CM,ICD10PCS,HCPCS] [--runs 300]
                                                [--no-lay-terms]

Builds a tantivy index of the official releases in a temporary directory (with the index
terms `codes.cli load` gives the codes: Alphabetic Index, External Cause Index, Table of
Drugs for ICD-10-CM; PCS Index and Definitions for ICD-10-PCS), then prints the p50 / p99
latency of `search()` per query kind (plan + engine + highlight + result models).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from codes.code_sets import hcpcs, icd10cm, icd10pcs
from codes.loading import with_mirror_terms
from codes.search.embedded import EmbeddedBackend
from medcode_common.settings import load_settings
from medcode_contracts.codes import SearchRequest

IMPORTERS = {"ICD10CM": icd10cm, "ICD10PCS": icd10pcs, "HCPCS": hcpcs}
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", default="ICD10CM,ICD10PCS,HCPCS")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--first", type=int, default=20)
    parser.add_argument("--no-lay-terms", action="store_true",
                        help="index ICD-10-CM without the Alphabetic Index lay terms")
    args = parser.parse_args()
    mirror = load_settings().DATA_MIRROR or Path(__file__).resolve().parents[2] / "shared" / "data"
    with tempfile.TemporaryDirectory() as tmp:
        backend = EmbeddedBackend(Path(tmp) / "tantivy")
        started = time.perf_counter()
        for system in args.systems.split(","):
            importer = IMPORTERS[system.strip()]
            meta, records = importer.read_edition(importer.find_release(mirror))
            if not args.no_lay_terms:
                records = with_mirror_terms(meta.system, records, mirror)
            backend.replace_system(meta.system.value, meta.fingerprint, records)
        print(f"index of {args.systems}{'' if args.no_lay_terms else ' + lay terms'}: "
              f"{backend._searcher.num_docs} documents, "
              f"built in {time.perf_counter() - started:.1f} s\n")
        print(f"{'query kind':24} {'query':22} {'hits':>6} {'p50 ms':>8} {'p99 ms':>8}")
        for kind, query in QUERIES:
            request = SearchRequest(query=query, first=args.first)
            result = backend.search(request)
            timings = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                backend.search(request)
                timings.append(time.perf_counter() - t0)
            timings.sort()
            p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
            print(f"{kind:24} {query!r:22} {result.total_count:6d} "
                  f"{statistics.median(timings) * 1000:8.3f} {p99 * 1000:8.3f}")
        backend.close()


if __name__ == "__main__":
    main()
