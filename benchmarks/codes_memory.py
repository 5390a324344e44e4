"""The codes process's RSS with every cache full (issue 13 item 6: 150 MB).

The bench's own load leaves most of the codes service's caches far from their bounds (it
asks for eight code pages and one claim), so its "idle after a full load" RSS says little
about the worst case. This fills each bound on purpose, through the running service's RPC,
with a deterministic workload read from the data directory:

- get_codes: CODES_PAGE_CACHE_SIZE distinct code pages (an even stride over every current
  code of every system, shuffled), 25 per call;
- check_claim: claims of procedure codes with PTP edits, ten lines each, until the PTP
  rows kept (CODES_PTP_ROWS_KEPT) and the claims' lookups kept (CODES_CLAIM_LOOKUPS_KEPT)
  are full; the service's timer loads the codes' edits between calls;
- get_code_rules: the rules sections of a few hundred codes of every system;
- search_codes: distinct queries, their second pages and misspelt forms (the typo path),
  for the search module's memo tables.

Then the service's own count of each cache (the `cache_usage` RPC) says how full each one
is. `make bench` calls fill() on the stack it runs, then reads the RSS;

    .venv/bin/python -m benchmarks.codes_memory --data-dir DIR

starts the codes service alone on a private vhost and prints the RSS after each step.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks import memory

# A code page's own batch (the code, its parent and children), not GetCodesRequest's limit of
# 200: eight workers building 200 pages each would leave their peak in the process.
PAGES_PER_CALL = 25
CONCURRENCY = 8  # as the gateway's load: several database connections in use at once
CLAIM_LINES = 10
RULES_SECTIONS = 400


@dataclass(frozen=True)
class Bounds:
    pages: int
    ptp_rows: int
    claim_lookups: int


@dataclass(frozen=True)
class Workload:
    pages: list[list[dict]]  # get_codes requests' refs
    naming_claims: list[dict]  # check_claim payloads: each PTP code once
    claims: list[dict]  # then other combinations of them (the claims' lookups)
    rules: list[list[dict]]  # get_code_rules requests' refs
    searches: list[dict]  # search_codes requests


def bounds_of(env: dict | None = None) -> Bounds:
    """The bounds the codes service runs with in `env` (its settings, read as it reads them)."""
    from codes.config import CodesSettings

    settings = CodesSettings(**_codes_env(env or dict(os.environ)))
    return Bounds(settings.CODES_PAGE_CACHE_SIZE, settings.CODES_PTP_ROWS_KEPT, settings.CODES_CLAIM_LOOKUPS_KEPT)


def _codes_env(env: dict) -> dict:
    from codes.config import CodesSettings

    return {name: env[name] for name in CodesSettings.model_fields if name.startswith("CODES_") and name in env}


def workload(database: Path, bounds: Bounds, searches: int) -> Workload:
    """What fills each bound, from the loaded database (the same on every run of one data set)."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        current = [row[0] for row in connection.execute("SELECT id FROM codes_editions WHERE is_current")]
        marks = ",".join("?" * len(current))
        every = connection.execute(
            f"SELECT system, code, title FROM codes_entries WHERE edition_id IN ({marks}) ORDER BY system, key",
            current,
        ).fetchall()
        # Each PTP code with its rows, in code order; enough codes to hold 1.5x the bound in rows.
        (ptp_edition,) = connection.execute(
            "SELECT max(edition_id) FROM rule_ptp_edits WHERE setting = 'practitioner'"
        ).fetchone()
        column1 = connection.execute(
            "SELECT column1, count(*) FROM rule_ptp_edits WHERE edition_id = ? AND setting = 'practitioner' "
            "GROUP BY column1 ORDER BY column1",
            [ptp_edition],
        ).fetchall()
    finally:
        connection.close()
    stride = max(1, len(every) // max(bounds.pages, 1))
    refs = [{"system": system, "code": code} for system, code, _ in every[::stride]][: bounds.pages]
    random.Random(13).shuffle(refs)  # the systems mixed, as a coder's pages are
    pages = [refs[i : i + PAGES_PER_CALL] for i in range(0, len(refs), PAGES_PER_CALL)]
    rules_refs = [
        {"system": system, "code": code} for system, code, _ in every[:: max(1, len(every) // RULES_SECTIONS)]
    ]
    rules = [rules_refs[i : i + 20] for i in range(0, len(rules_refs), 20)]
    vocabulary = sorted({word for _, _, title in every for word in re.findall(r"[a-z]{4,}", title.lower())})
    return Workload(pages, *claims(column1, bounds), rules, search_requests(searches, vocabulary))


def claims(column1: list[tuple[str, int]], bounds: Bounds) -> tuple[list[dict], list[dict]]:
    """Ten-line claims that name codes whose PTP rows add up to 1.5x the rows kept (a
    code's rows are kept whole, and one larger than the bound never), once each; then
    1.5x the claims' lookups kept of other combinations of the same codes."""
    # A spread of codes, not the first ones: every 3rd of them, the largest left out (never kept).
    chosen, rows, counts = [], 0, dict(column1)
    for code, count in column1[::3]:
        if count < bounds.ptp_rows // 4:
            chosen.append(code)
            rows += count + 1
        if rows >= bounds.ptp_rows * 1.5:
            break

    def claim(lines: list[str]) -> dict:
        return {"date_of_service": "2025-01-15", "setting": "practitioner", "lines": [{"code": c} for c in lines]}

    naming = [claim(chosen[i : i + CLAIM_LINES]) for i in range(0, len(chosen), CLAIM_LINES)]
    # The combinations: of the codes named last, which the rows kept still hold.
    kept, held = [], 0
    for code in reversed(chosen):
        held += counts[code] + 1
        if held > bounds.ptp_rows * 0.9:
            break
        kept.append(code)
    kept = kept or chosen[-1:]
    combinations = []
    for n in range(bounds.claim_lookups * 3 // 2):
        step = 1 + n // len(kept)  # a new combination of the same codes each round
        combinations.append(claim([kept[(n + i * step) % len(kept)] for i in range(CLAIM_LINES)]))
    return naming, combinations


def search_requests(count: int, vocabulary: list[str] = ()) -> list[dict]:  # type: ignore[assignment]
    """Distinct queries; every 4th also its second page, every 3rd also misspelt (two
    letters swapped: the typo-tolerant path and its distance memo); the last quarter, four
    words of the titles' vocabulary each (spread over it), for the words' memo."""
    from benchmarks.run import distinct_queries

    groups = count // 4 if vocabulary else 0
    words = list(vocabulary[:: max(1, len(vocabulary) // max(groups * 4, 1))])[: groups * 4]
    found: list[dict] = []
    for n, query in enumerate(distinct_queries()):
        if len(found) >= count - groups:
            break
        found.append({"query": query, "first": 10})
        if n % 4 == 0:
            found.append({"query": query, "first": 10, "after": None, "offset": 10})
        if n % 3 == 0 and len(query) > 5:
            i = len(query) // 2
            found.append({"query": query[: i - 1] + query[i] + query[i - 1] + query[i + 1 :], "first": 10})
    found = found[: count - groups]
    found += [{"query": " ".join(words[i : i + 4]), "first": 10} for i in range(0, len(words), 4)]
    return [_second_page(r) for r in found]


def _second_page(request: dict) -> dict:
    if "offset" not in request:
        return request
    from codes.search.planner import encode_cursor

    return {"query": request["query"], "first": 10, "after": encode_cursor(request["offset"])}


# -- the fill ----------------------------------------------------------------------------
async def _each(calls: list[Callable[[], Awaitable[object]]], concurrency: int = CONCURRENCY) -> None:
    queue = list(reversed(calls))

    async def worker() -> None:
        while queue:
            await queue.pop()()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def fill(
    amqp_uri: str,
    work: Workload,
    after_step: Callable[[str], None] | None = None,
    wait_seconds: float = 3.0,
) -> dict:
    """Run `work` against the codes service; {step: seconds} and its cache_usage() after."""
    from medcode_common.aio_rpc import RpcClient
    from medcode_contracts import codes as codes_contract

    took: dict[str, float] = {}
    async with RpcClient(amqp_uri, timeout=60, caller="bench") as rpc:

        def call(method: str, **kwargs) -> Callable[[], Awaitable[object]]:
            return lambda: rpc.call("codes", method, **kwargs)

        steps = [
            ("pages", [call("get_codes", request={"refs": refs}) for refs in work.pages]),
            ("claims", [call("check_claim", request=claim) for claim in work.naming_claims]),
            ("rules", [call("get_code_rules", request={"refs": refs}) for refs in work.rules]),
            ("searches", [call("search_codes", request=request) for request in work.searches]),
        ]
        for name, calls in steps:
            started = time.perf_counter()
            await _each(calls)
            if name == "claims":
                # The service's timer loads the named codes' PTP rows once a second; then
                # the other combinations, answered from them, fill the claims' lookups.
                await asyncio.sleep(wait_seconds)
                await _each([call("check_claim", request=claim) for claim in work.claims])
            took[name] = round(time.perf_counter() - started, 2)
            if after_step is not None:
                after_step(name)
        try:
            usage = await rpc.call(codes_contract.SERVICE, codes_contract.Rpc.CACHE_USAGE)
        except Exception:  # noqa: BLE001 - a codes service from before the RPC: no counts
            usage = {}
    return {"seconds": took, "caches": usage}


# -- the service alone -------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="a DATA_DIR with the code sets loaded")
    parser.add_argument("--searches", type=int, default=2000)
    args = parser.parse_args()

    from benchmarks.codes_process import codes_service

    bounds = bounds_of()
    work = workload(args.data_dir / "codes.sqlite3", bounds, args.searches)
    print(
        f"bounds {bounds}; {sum(map(len, work.pages))} pages, {len(work.naming_claims) + len(work.claims)} claims, "
        f"{len(work.searches)} searches",
        flush=True,
    )
    with codes_service(args.data_dir, "codes-memory") as (service, amqp_uri):

        def show(when: str) -> None:
            time.sleep(2)
            sizes = {field: memory.tree_rss_mb(service.pid, field) for field in ("VmRSS", "RssAnon", "RssFile")}
            print(
                f"  after {when:9} RSS {sizes['VmRSS']:6.1f} MB (anonymous {sizes['RssAnon']:6.1f}, "
                f"file {sizes['RssFile']:5.1f})",
                flush=True,
            )

        show("start")
        result = asyncio.run(fill(amqp_uri, work, show))
    print(f"  seconds per step: {result['seconds']}")
    for name, usage in result["caches"].items():
        print(f"  {name:32} {usage['entries']:>8} of {usage['bound']:>8} {usage.get('unit', 'entries')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
