"""`make bench`: the figures of issue 13's table, each beside a baseline measured in the same
run on the same machine, printed as a table and written to var/bench/latest.json.

1. A fresh data directory: the code sets and coding rules are loaded as the first
   `make run` loads them, then the whole stack starts on a private RabbitMQ vhost
   (seconds to ready = the "first make run" row).
2. RSS of every process, idle right after start.
3. Load from wrk (benchmarks/graphql.lua): the bare gateway `{ __typename }`, searchCodes
   with every query different, code pages as a PRO member (session cookie + CSRF header,
   as the web app sends them) and as a cookie-less guest, jobs, ask and checkClaim. The
   one bare RPC round trip (careers.health through the gateway's own RpcClient) is the only
   load from Python: wrk speaks HTTP, not AMQP; so is one bare RPC at c=8 (asyncio), the
   floor any RPC-backed request has. The c=1 rows held to a ratio to that round trip
   (search, code page) are measured in 3 rounds, each beside its own bare RPC p50
   (paired_c1_rows). Around each load, the CPU time every platform process
   (gateway, each service, RabbitMQ's beam.smp, wrk, the bench's own RPC client) used is
   read from /proc and divided by the requests: the profile under each row, in
   figures["cpu_ms_per_request"], and for each unmet goal under the table.
4. RSS of every process again, idle after that load; then every cache of the codes service
   is filled to its bound through its RPC (benchmarks.codes_memory: code pages, claims'
   PTP rows and lookups, rules sections, searches) and its RSS read once more: the "codes
   RSS with every cache full" row; then the stack stops.
5. In-process: search in the codes process's engine beside a plain tantivy query on the
   same index; the NCCI PTP load beside plain SQLite (benchmarks.load_bench); check_claim
   beside one indexed pair lookup (benchmarks.claim_bench); the per-query search section
   (benchmarks.search_bench).

BENCH_SECONDS (default 8) is the length of each load measurement. BENCH_DATA_DIR reuses a
data directory (loaded when needed; the "first make run" row is measured only when it
starts empty). Nothing is asserted: the table says whether each goal holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from benchmarks import claim_bench, codes_memory, load_bench, memory, report, rules_bench, search_bench, wrk
from gateway.testing import free_port
from medcode_common.broker_admin import RABBIT_API, TemporaryVhost
from medcode_common.launcher import Platform
from medcode_common.settings import load_settings
from medcode_common.testing import local_platform_env

DURATION = float(os.environ.get("BENCH_SECONDS", "8"))
LATEST = Path(os.environ.get("BENCH_OUTPUT", "var/bench/latest.json"))
# What `make run` does before the launcher (the Makefile's `load` target).
FIRST_RUN_LOAD = ["-m", "codes.cli", "load", "--no-progress"]
SETTLE_SECONDS = 5.0  # idle time before an RSS sample: finished requests release their memory
REPEATED_QUERIES = [
    "achalasia",
    "k22",
    "heart failure",
    "fx femur",
    "diabetes type 2",
    "J9035",
    "copd exacerbation",
    "achal",
    "myocardial infarction",
    "pneumonia",
]
CODES = [
    ("ICD10CM", "K22.0"),
    ("HCPCS", "J9035"),
    ("ICD10CM", "I50.9"),
    ("ICD10PCS", "0DB64ZZ"),
    ("ICD10CM", "E11.9"),
    ("ICD10CM", "S72.001A"),
    ("HCPCS", "G0008"),
    ("ICD10CM", "J44.1"),
]
SEARCH = (
    "query($q: String!) { searchCodes(query: $q, first: 10) "
    "{ totalCount edges { score highlight node { system code title billable } } } }"
)
# The page with its access and a premium section, so the meter is asked (as for a coder).
CODE = (
    "query($s: CodeSystem!, $c: String!) { code(system: $s, code: $c) "
    "{ code title billable access { granted remaining } notes { excludes1 } parent { code } children { code } } }"
)
JOBS = (
    "query($f: JobFilter) { jobs(filter: $f, first: 10) { totalCount edges { cursor "
    "node { id title company location remote salaryMin salaryMax certifications } } } }"
)
JOB_FILTERS = [
    {"query": "coder"},
    {"query": "remote oncology"},
    {"remote": True},
    {"certifications": ["CPC"]},
    {"minSalary": 60000},
    {"query": "inpatient", "location": "Columbus"},
    {"postedWithinDays": 7},
    {"query": "coding", "remote": True, "certifications": ["CCS", "CRC"]},
    {},
    {"query": "audit"},
]
ASK = (
    "mutation($q: String!) { ask(input: {question: $q}) "
    "{ id intent text citations { source locator } codes { system code } } }"
)


def distinct_queries() -> list[str]:
    """Thousands of different searches a coder might type (the first two words of
    ICD-10-CM titles), shuffled, so each one reaches the codes service, not a cache."""
    import simple_icd_10_cm as cm

    seen: dict[str, None] = {}
    for code in cm.get_all_codes(with_dots=True):
        if cm.is_leaf(code):
            seen.setdefault(" ".join(cm.get_description(code).replace(",", " ").split()[:2]).lower())
    queries = list(seen)
    random.Random(7).shuffle(queries)
    return queries


# -- the stack ---------------------------------------------------------------------------
def first_run(env: dict, base_url: str, log: Path) -> tuple[Platform, float]:
    """Load the data directory as `make run` does, start the stack, wait for /readyz."""
    started = time.perf_counter()
    platform = Platform(env=env)
    with output_to(log):
        loaded = subprocess.run([sys.executable, *FIRST_RUN_LOAD], env=env, check=False)
        if loaded.returncode == 0:
            platform.start()
    if loaded.returncode != 0:
        raise RuntimeError(f"loading the code sets failed (exit status {loaded.returncode}); see {log}")
    if not platform.wait_ready(f"{base_url}/readyz"):
        platform.stop()
        raise RuntimeError(
            f"the stack did not become ready (exited: {', '.join(platform.dead()) or 'none'}); see {log}"
        )
    return platform, time.perf_counter() - started


def rss(platform: Platform, when: str) -> dict[str, dict[str, float]]:
    """{process: {"rss", "anon", "file"}} in MB, after SETTLE_SECONDS of idling."""
    time.sleep(SETTLE_SECONDS)
    pids = {name: proc.pid for name, proc in platform.children.items()}
    total, anon, file = (memory.rss_by_name(pids, field) for field in ("VmRSS", "RssAnon", "RssFile"))
    print(
        f"  RSS {when} (of it anonymous): "
        + ", ".join(f"{name} {mb:.0f} ({anon[name]:.0f}) MB" for name, mb in total.items()),
        flush=True,
    )
    return {name: {"rss": total[name], "anon": anon[name], "file": file[name]} for name in pids}


@contextlib.contextmanager
def output_to(log: Path) -> Iterator[None]:
    """The processes started inside inherit `log` as stdout and stderr, so the stack's logs
    go there instead of between the bench's lines."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("ab") as file:
        os.dup2(file.fileno(), 1)
        os.dup2(file.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def pro_member(base_url: str, env: dict) -> tuple[dict[str, str], Callable[[], None]]:
    """A throw-away PRO account signed in as the web app is: the headers that carry its
    session cookie and CSRF proof, and a function that deletes the account."""
    email = f"bench-{uuid.uuid4().hex[:10]}@example.invalid"
    register = (
        'mutation($e: String!) { register(input: {email: $e, password: "bench password 123", '
        'name: "Benchmark"}) { token account { id } } }'
    )
    with httpx.Client(base_url=base_url, timeout=30) as client:
        answer = client.post("/graphql", json={"query": register, "variables": {"e": email}})
        body = answer.json()
        if body.get("errors"):
            raise RuntimeError(f"could not register the bench account: {body['errors']}")
        token, account_id = body["data"]["register"]["token"], body["data"]["register"]["account"]["id"]
        session, csrf = answer.cookies.get("medcode_session"), answer.cookies.get("medcode_csrf")
        subprocess.run(
            [sys.executable, "-m", "accounts.cli", "make-admin", email], env=env, check=True, capture_output=True
        )
        bearer = {"Authorization": f"Bearer {token}"}
        body = client.post(
            "/graphql",
            headers=bearer,
            json={
                "query": "mutation($id: ID!) { setPlan(accountId: $id, plan: PRO) { plan } }",
                "variables": {"id": account_id},
            },
        ).json()
        if (body.get("data") or {}).get("setPlan", {}).get("plan") != "PRO":
            raise RuntimeError(f"could not make the bench account PRO: {body}")

    def delete() -> None:
        httpx.post(f"{base_url}/graphql", headers=bearer, timeout=30, json={"query": "mutation { deleteAccount }"})

    if not session or not csrf:
        raise RuntimeError("register set no session/CSRF cookies")
    return {"Cookie": f"medcode_session={session}; medcode_csrf={csrf}", "X-CSRF-Token": csrf}, delete


# -- CPU per request --------------------------------------------------------------------
BENCH_CLIENT = "bench (RpcClient)"


def platform_pids(platform: Platform) -> dict[str, int]:
    """{name: pid} of the stack's processes and of RabbitMQ's beam.smp (the broker is the
    machine's: other work on it is counted too)."""
    pids = {name: proc.pid for name, proc in platform.children.items()}
    for n, pid in enumerate(memory.pids_named("beam.smp")):
        pids["rabbitmq" if n == 0 else f"rabbitmq-{n}"] = pid
    return pids


class CpuUse:
    """The CPU time of `pids` (with their descendants) and, with `client`, of this process
    alone (its RPC client), from start() to profile()."""

    def __init__(self, pids: dict[str, int], client: bool = False):
        self.pids, self.client = pids, client

    def read(self) -> dict[str, float]:
        seconds = memory.cpu_by_name(self.pids)
        if self.client:
            seconds[BENCH_CLIENT] = memory.cpu_seconds(os.getpid())  # not its children: the stack is one
        return seconds

    def start(self) -> CpuUse:
        self.before, self.machine_before, self.started = self.read(), memory.machine_busy_seconds(), time.perf_counter()
        return self

    def profile(self, requests: int, extra_seconds: dict[str, float] | None = None) -> dict:
        after, machine_after, wall = self.read(), memory.machine_busy_seconds(), time.perf_counter() - self.started
        per_request = memory.cpu_ms_per_request(self.before, after, requests)
        for name, used in (extra_seconds or {}).items():
            per_request[name] = round(used * 1000 / requests, 4) if requests else 0.0
        return report.cpu_profile(per_request, requests, wall, machine_after - self.machine_before)


async def rpc_round_trip_p50_ms(amqp_uri: str, seconds: float) -> float:
    """One bare RPC after another (careers.health, the cheapest method) through the
    gateway's own client: the floor of any request that needs a service."""
    from medcode_common.aio_rpc import RpcClient  # the gateway's own client: the same wire path

    async with RpcClient(amqp_uri, timeout=10, caller="bench") as rpc:
        for _ in range(20):
            await rpc.call("careers", "health")
        timings = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await rpc.call("careers", "health")
            timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


async def rpc_calls_at(amqp_uri: str, seconds: float, concurrency: int, cpu: CpuUse) -> tuple[float, dict]:
    """Bare RPCs (careers.health) from `concurrency` callers at once for `seconds`, through
    the gateway's own client: calls per second, and the CPU profile per call."""
    from medcode_common.aio_rpc import RpcClient

    async with RpcClient(amqp_uri, timeout=10, caller="bench") as rpc:
        for _ in range(20):
            await rpc.call("careers", "health")
        calls = 0
        cpu.start()
        deadline = time.perf_counter() + seconds

        async def caller() -> None:
            nonlocal calls
            while time.perf_counter() < deadline:
                await rpc.call("careers", "health")
                calls += 1

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        return calls / elapsed, cpu.profile(calls)


def warm_up(base_url: str, bodies: list[str], headers: dict[str, str] | None) -> None:
    """A few requests first: caches and connections warm, and a broken case fails here
    with the platform's own error rather than as a count in wrk's summary."""
    with httpx.Client(base_url=base_url, timeout=30, headers=headers) as client:
        for body in bodies[:10]:
            answer = client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
            if answer.status_code != 200 or answer.json().get("errors"):
                raise RuntimeError(f"benchmark request failed: {answer.status_code} {answer.text[:500]}")


PAIRED_ROUNDS = 3


def gateway_rpc_calls(base_url: str) -> dict[str, float]:
    """The gateway's RPC calls so far by "service.method" (its /metrics latency histogram's counts)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    calls: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "gateway_rpc_duration_seconds_count":  # one sample per outcome
                target = f"{sample.labels['service']}.{sample.labels['method']}"
                calls[target] = calls.get(target, 0.0) + sample.value
    return calls


def paired_c1_rows(
    figures: dict,
    profiles: dict,
    base_url: str,
    amqp_uri: str,
    pids: dict[str, int],
    seconds: float,
    rows: dict[str, tuple[list[str], dict[str, str] | None, bool]],
) -> None:
    """The c=1 latency rows whose goal is a ratio to one bare RPC round trip, measured in
    PAIRED_ROUNDS rounds of (bare RPC p50, then each row's p50 at c=1), each a slice of
    `seconds`, so a noisy minute slows a row and its baseline alike. Each row keeps the
    round with its median ratio: its p50 as figures[row], that round's bare RPC p50 as
    figures[row + "_rpc_p50_ms"] (the row's baseline), and every round in
    figures["paired_c1_rounds"]. A row's `split_rounds` gives each round its own share of
    the bodies (distinct searches), else every round sends them all."""
    slice_seconds = max(2.0, seconds / 2)
    rounds: dict[str, list[dict]] = {row: [] for row in rows}
    for bodies, headers, _ in rows.values():
        warm_up(base_url, bodies, headers)
    for number in range(PAIRED_ROUNDS):
        rpc_p50 = asyncio.run(rpc_round_trip_p50_ms(amqp_uri, slice_seconds))
        for row, (bodies, headers, split_rounds) in rows.items():
            part = bodies[number::PAIRED_ROUNDS] if split_rounds else bodies
            cpu = CpuUse(pids).start()
            load = wrk.run(base_url, part, concurrency=1, seconds=slice_seconds, headers=headers)
            profile = cpu.profile(load.requests, {"wrk": load.cpu_seconds})
            rounds[row].append(
                {"p50_ms": load.p50_ms, "rpc_p50_ms": rpc_p50, "ratio": load.p50_ms / rpc_p50, "profile": profile}
            )
            print(
                f"  {row:36} round {number + 1}: p50 {load.p50_ms:6.2f} ms beside one bare RPC p50 "
                f"{rpc_p50:.2f} ms = {load.p50_ms / rpc_p50:.2f}x ({load.requests} requests)",
                flush=True,
            )
    for row, measured in rounds.items():
        middle = report.median_round(measured)
        figures[row] = round(middle["p50_ms"], 3)
        figures[f"{row}_rpc_p50_ms"] = round(middle["rpc_p50_ms"], 3)
        profiles[row] = middle["profile"]
    figures["paired_c1_rounds"] = {
        row: [{key: round(value, 3) for key, value in r.items() if key != "profile"} for r in measured]
        for row, measured in rounds.items()
    }


def http_figures(base_url: str, amqp_uri: str, member: dict[str, str], seconds: float, pids: dict[str, int]) -> dict:
    body = wrk.graphql_body
    fresh = [body(SEARCH, {"q": q}) for q in distinct_queries()]
    repeated = [body(SEARCH, {"q": q}) for q in REPEATED_QUERIES]
    pages = [body(CODE, {"s": s, "c": c}) for s, c in CODES]
    bare = [body("{ __typename }")]
    jobs = [body(JOBS, {"f": f}) for f in JOB_FILTERS]
    from assistant.evaluation import QUESTIONS

    asks = [body(ASK, {"q": question.text}) for question in QUESTIONS]
    claims = [body(rules_bench.CHECK_CLAIM, {"input": rules_bench._graphql_claim()})]

    figures: dict = {}
    profiles: dict[str, dict] = {}

    def show(name: str) -> None:
        print(f"    CPU per request: {report.profile_text(profiles[name])}", flush=True)

    def measure(
        name: str,
        bodies: list[str],
        concurrency: int,
        headers: dict | None = None,
        unit: str = "rps",
        warm: bool = True,
    ) -> None:
        if warm:
            warm_up(base_url, bodies, headers)
        calls = gateway_rpc_calls(base_url)
        cpu = CpuUse(pids).start()
        load = wrk.run(base_url, bodies, concurrency=concurrency, seconds=seconds, headers=headers)
        profiles[name] = cpu.profile(load.requests, {"wrk": load.cpu_seconds})
        profiles[name]["rpc_calls_per_request"] = report.rpc_calls_per_request(
            calls, gateway_rpc_calls(base_url), load.requests
        )
        figures[name] = round(load.rps if unit == "rps" else load.p50_ms, 3)
        print(
            f"  {name:36} {load.rps:9.1f} req/s  p50 {load.p50_ms:8.2f} ms  p99 {load.p99_ms:8.2f} ms  "
            f"({load.requests} requests, c={concurrency})",
            flush=True,
        )
        show(name)

    figures["rpc_p50_ms"] = round(asyncio.run(rpc_round_trip_p50_ms(amqp_uri, seconds)), 3)
    print(f"  {'rpc_p50_ms':36} {figures['rpc_p50_ms']:.2f} ms (careers.health, c=1)", flush=True)
    rps, profiles["rpc_c8_rps"] = asyncio.run(rpc_calls_at(amqp_uri, seconds, 8, CpuUse(pids, client=True)))
    figures["rpc_c8_rps"] = round(rps, 3)
    print(f"  {'rpc_c8_rps':36} {rps:9.1f} calls/s (careers.health, c=8)", flush=True)
    show("rpc_c8_rps")
    measure("bare_gateway_c1_p50_ms", bare, 1, unit="p50")
    measure("bare_gateway_c8_rps", bare, 8)
    measure("bare_gateway_c20_rps", bare, 20)
    # Distinct queries: warm-up requests would spend some, which is fine (7,000+ of them),
    # but the c=1 run must not start where the c=8 run already went through the cache.
    measure("search_distinct_c8_rps", fresh[: len(fresh) // 2], 8)
    measure("search_repeated_c8_rps", repeated, 8)
    measure("code_page_pro_c8_rps", pages, 8, member)
    measure("code_page_guest_c20_rps", pages, 20)
    paired_c1_rows(
        figures,
        profiles,
        base_url,
        amqp_uri,
        pids,
        seconds,
        {
            # Distinct queries: the c=1 rounds must not start where the c=8 run already
            # went through the cache, nor one round where another went (split_rounds).
            "search_distinct_c1_p50_ms": (fresh[len(fresh) // 2 :], None, True),
            "code_page_pro_c1_p50_ms": (pages, member, False),
        },
    )
    measure("jobs_c8_rps", jobs, 8)
    measure("ask_c1_p50_ms", asks, 1, member, unit="p50")
    measure("check_claim_graphql_c1_p50_ms", claims, 1, member, unit="p50")
    figures["cpu_ms_per_request"] = profiles
    return figures


def fill_codes_caches(platform: Platform, amqp_uri: str, data_dir: Path, env: dict, figures: dict) -> dict | None:
    """Every cache of the codes service filled to its bound (benchmarks.codes_memory), then
    the codes process's RSS: {"rss", "anon", "file"} MB (None when it could not be filled)."""
    database = data_dir / "codes.sqlite3"
    if "codes" not in platform.children or not database.exists():
        return None
    # BENCH_SECONDS shortens the searches (the slowest step); the other bounds are filled whole.
    work = codes_memory.workload(database, codes_memory.bounds_of(env), searches=int(min(2000, 250 * DURATION)))
    result = asyncio.run(codes_memory.fill(amqp_uri, work))
    figures["codes_cache_fill"] = result
    filled = ", ".join(f"{name} {usage['entries']}/{usage['bound']}" for name, usage in result["caches"].items())
    print(f"  codes caches filled in {sum(result['seconds'].values()):.0f} s: {filled}", flush=True)
    return rss(platform, "with every codes cache full")["codes"]


# -- in-process baselines ----------------------------------------------------------------
def search_engine_figures(data_dir: Path, runs: int = 300) -> dict[str, float]:
    """The codes service's search (plan + engine + highlight + result models) beside a
    plain tantivy query (parse the words, top 10, fetch the stored documents) on the
    same index, over the same distinct queries."""
    import tantivy

    from codes.search.embedded import EmbeddedBackend
    from medcode_contracts.codes import SearchRequest

    backend = EmbeddedBackend(data_dir / "search" / "tantivy")
    index = tantivy.Index.open(str(backend.index_directory))
    from codes.search import analysis

    index.register_tokenizer(analysis.STEM_TOKENIZER, analysis.stem_analyzer())
    searcher = index.searcher()
    queries = distinct_queries()[:runs]

    def plain(words: str) -> None:
        # Words only: punctuation inside a word would make a phrase, and titles have no positions.
        query = index.parse_query(re.sub(r"[^0-9a-z]+", " ", words.lower()), ["title"])
        for _, address in searcher.search(query, 10).hits:
            searcher.doc(address)

    def p50(call: Callable[[str], object]) -> float:
        for words in queries[:20]:
            call(words)
        timings = []
        for words in queries:
            started = time.perf_counter()
            call(words)
            timings.append(time.perf_counter() - started)
        return round(statistics.median(timings) * 1000, 4)

    figures = {
        "tantivy_query_p50_ms": p50(plain),
        "engine_search_p50_ms": p50(lambda words: backend.search(SearchRequest(query=words, first=10))),
    }
    backend.close()
    return figures


def rules_figures(workdir: Path) -> dict[str, float]:
    database = workdir / "codes.sqlite3"
    load = load_bench.measure_ptp_load(database_url=f"sqlite:///{database}")
    check = claim_bench.measure_claim_check(database)
    print(
        f"  NCCI PTP practitioner: {load['rows']:,} rows; loader {load['service_seconds']:.1f} s, "
        f"plain SQLite {load['sqlite_seconds']:.1f} s; check_claim p50 {check['service_p50_ms']:.3f} ms "
        f"(codes no claim named before: {check['unseen_p50_ms']:.3f} ms, again: {check['repeated_p50_ms']:.3f} ms), "
        f"plain SQLite pair lookup {check['sqlite_p50_ms']:.3f} ms",
        flush=True,
    )
    return {
        "ptp_rows": load["rows"],
        "ptp_load_s": round(load["service_seconds"], 2),
        "ptp_sqlite_s": round(load["sqlite_seconds"], 2),
        "check_claim_p50_ms": round(check["service_p50_ms"], 4),
        "check_claim_unseen_p50_ms": round(check["unseen_p50_ms"], 4),
        "check_claim_repeated_p50_ms": round(check["repeated_p50_ms"], 4),
        "check_claim_sqlite_p50_ms": round(check["sqlite_p50_ms"], 4),
    }


def search_section() -> list | None:
    """The per-query search latencies of benchmarks.search_bench (issue 14's section)."""
    measure: Callable[..., list] | None = getattr(search_bench, "measure", None)
    if measure is None:
        # TODO(issue-14-search): search_bench.measure() returns the rows; until it is
        # merged, its command-line path prints them.
        subprocess.run([sys.executable, "-m", "benchmarks.search_bench", "--runs", "100"], check=False)
        return None
    rows = measure(runs=100)
    getattr(search_bench, "report", print)(rows)
    return rows


# -- the run -----------------------------------------------------------------------------
def versions(amqp_api: str) -> dict:
    rabbitmq = None
    try:
        rabbitmq = httpx.get(f"{amqp_api}/api/overview", timeout=10).json().get("rabbitmq_version")
    except (httpx.HTTPError, ValueError):
        pass
    wrk_version = None
    if shutil.which("wrk"):
        first = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()
        wrk_version = first[0].split(" [")[0].removeprefix("wrk ") if first else None
    return report.machine(rabbitmq_version=rabbitmq, wrk_version=wrk_version)


def run(data_dir: Path, workdir: Path, seconds: float) -> tuple[dict, list[str]]:
    settings = load_settings()
    figures: dict = {"seconds_per_measurement": seconds}
    notes = ["Other work shares this machine's cores: figures are noisy; compare the ratios."]
    fresh = not data_dir.exists() or not any(data_dir.iterdir())
    with TemporaryVhost("bench", amqp_base=settings.AMQP_URI) as vhost:
        port = free_port()
        env = dict(
            os.environ,
            **local_platform_env(vhost.amqp_uri, data_dir, port),
            # All load (and each run's bench account) comes from one address: per-address
            # limits would measure themselves, or refuse a reused data directory's account.
            RATE_LIMIT_PER_MINUTE="0",
            ACCOUNTS_PER_ADDRESS_PER_DAY="1000000",
            REGISTER_ATTEMPTS_PER_ADDRESS_PER_HOUR="1000000",
        )
        base = f"http://127.0.0.1:{port}"
        log = LATEST.parent / "stack.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        print(
            f"loading a {'fresh' if fresh else 'reused'} data directory and starting the stack (its output: {log})...",
            flush=True,
        )
        platform, ready_seconds = first_run(env, base, log)
        if fresh:
            figures["first_run_ready_s"] = round(ready_seconds, 1)
        try:
            idle = rss(platform, "idle after start")
            member, delete_member = pro_member(base, env)
            print(f"stack ready in {ready_seconds:.1f} s; {seconds:g} s per measurement", flush=True)
            try:
                figures.update(http_figures(base, vhost.amqp_uri, member, seconds, platform_pids(platform)))
            finally:
                delete_member()
            loaded = rss(platform, "idle after the load")
            figures["rss_mb"] = {name: {"idle": idle[name]["rss"], "loaded": loaded[name]["rss"]} for name in idle}
            figures["rss_detail_mb"] = {name: {"idle": idle[name], "loaded": loaded[name]} for name in idle}
            full = fill_codes_caches(platform, vhost.amqp_uri, data_dir, env, figures)
            if full is not None:
                figures["rss_mb"]["codes"]["full"] = full["rss"]
                figures["rss_detail_mb"]["codes"]["full"] = full
        finally:
            platform.stop()
    print("in-process baselines...", flush=True)
    figures.update(search_engine_figures(data_dir))
    figures.update(rules_figures(workdir))
    search_rows = search_section()
    if search_rows is None:
        notes.append("The per-query search section (benchmarks.search_bench) printed to the console only.")
    else:
        figures["search_per_query"] = search_rows
    return figures, notes


def main() -> int:
    seconds = DURATION
    began = time.perf_counter()
    reused = os.environ.get("BENCH_DATA_DIR")
    with tempfile.TemporaryDirectory(prefix="medcode-bench-") as tmp:
        data_dir = Path(reused).resolve() if reused else Path(tmp) / "var"
        data_dir.mkdir(parents=True, exist_ok=True)
        (Path(tmp) / "ptp").mkdir()
        figures, notes = run(data_dir, Path(tmp) / "ptp", seconds)
    figures["bench_total_s"] = round(time.perf_counter() - began, 1)
    rows = report.build_rows(figures)
    print("\n" + report.render(rows))
    print("\n" + report.render_profile(rows, figures))
    report.write_latest(LATEST, report.latest_json(figures, rows, versions(RABBIT_API), notes))
    print(f"\nwritten: {LATEST} (the bench took {figures['bench_total_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
