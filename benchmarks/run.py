"""`make bench`: start the whole stack and measure, in one run, full-stack GraphQL queries
beside the bare gateway (`{ __typename }`) and one bare RPC round trip.

Goals the platform is held to (issue 2): full-stack search throughput >= 0.6x the bare
gateway's, and search p50 at concurrency 1 <= 2x one RPC round trip. The table reports
ratios measured here, in this run, on this machine; nothing is asserted.
"""
from __future__ import annotations

import asyncio
import itertools
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import httpx

from assistant.evaluation import QUESTIONS
from benchmarks import rules_bench
from medcode_common.launcher import Platform
from medcode_common.settings import load_settings

DURATION = float(os.environ.get("BENCH_SECONDS", "5"))
CONCURRENCY = (1, 8)
SEARCH_QUERIES = ["achalasia", "k22", "heart failure", "fx femur", "diabetes type 2", "J9035",
                  "copd exacerbation", "achal", "myocardial infarction", "pneumonia"]
CODES = [("ICD10CM", "K22.0"), ("HCPCS", "J9035"), ("ICD10CM", "I50.9"), ("ICD10PCS", "0DB64ZZ"),
         ("ICD10CM", "E11.9"), ("ICD10CM", "S72.001A"), ("HCPCS", "G0008"), ("ICD10CM", "J44.1")]
SEARCH = ("query($q: String!) { searchCodes(query: $q, first: 10) "
          "{ totalCount edges { score highlight node { system code title billable } } } }")
# Job-board searches: words, place, remote, certification, salary and age filters (the
# board holds the sample jobs when it was empty: make run and this stack post them).
JOBS = ("query($f: JobFilter) { jobs(filter: $f, first: 10) "
        "{ totalCount edges { cursor node { id title company location remote salaryMin salaryMax certifications } } } }")
JOB_FILTERS = [{"query": "coder"}, {"query": "remote oncology"}, {"remote": True}, {"certifications": ["CPC"]},
               {"minSalary": 60000}, {"query": "inpatient", "location": "Columbus"}, {"postedWithinDays": 7},
               {"query": "coding", "remote": True, "certifications": ["CCS", "CRC"]}, {}, {"query": "audit"}]
CODE = ("query($s: CodeSystem!, $c: String!) { code(system: $s, code: $c) "
        "{ code title billable notes { excludes1 } parent { code } children { code } } }")
ASK = ("mutation($q: String!) { ask(input: {question: $q}) "
       "{ id intent text citations { source locator } codes { system code } } }")
ASK_CASE = "full stack ask (assistant question set)"


def distinct_queries() -> list[str]:
    """Thousands of different searches a coder might type (the first words of ICD-10-CM
    titles), shuffled, so each one reaches the codes service instead of the cache."""
    import random

    import simple_icd_10_cm as cm

    seen: dict[str, None] = {}
    for code in cm.get_all_codes(with_dots=True):
        if cm.is_leaf(code):
            seen.setdefault(" ".join(cm.get_description(code).replace(",", " ").split()[:2]).lower())
    queries = list(seen)
    random.Random(7).shuffle(queries)
    return queries


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def management_vhost(amqp_uri: str) -> tuple[str, callable]:
    """A private vhost so the benchmark never shares queues with a running platform."""
    name = f"bench-{uuid.uuid4().hex[:8]}"
    api = "http://127.0.0.1:15672/api"
    auth = ("guest", "guest")
    httpx.put(f"{api}/vhosts/{name}", auth=auth).raise_for_status()
    httpx.put(f"{api}/permissions/{name}/guest", auth=auth,
              json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    vhost_uri = urlunsplit(urlsplit(amqp_uri)._replace(path=f"/{name}"))
    return vhost_uri, lambda: httpx.delete(f"{api}/vhosts/{name}", auth=auth)


async def closed_loop(request, concurrency: int, duration: float,
                      at_least: int = 0) -> tuple[float, list[float]]:
    """`concurrency` workers each send one request after another for `duration` seconds
    (and until `at_least` requests were sent, e.g. each question of a set once)."""
    latencies: list[float] = []
    deadline = time.perf_counter() + duration

    async def worker(n: int):
        for i in itertools.count(n):
            if time.perf_counter() >= deadline and len(latencies) >= at_least:
                return
            start = time.perf_counter()
            await request(i)
            latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return len(latencies) / (time.perf_counter() - began), latencies


def graphql(client: httpx.AsyncClient, query: str, variables_for, headers: dict | None = None):
    async def request(i: int):
        response = await client.post("/graphql", json={"query": query, "variables": variables_for(i)},
                                     headers=headers)
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"benchmark request failed: {response.status_code} {body}")
    return request


def pro_account(base_url: str, env: dict) -> tuple[str, callable]:
    """A throw-away PRO account, so code pages are measured in full (a guest is gated after
    one page): register, make it ADMIN with the accounts CLI, set its plan. Returns its
    bearer token and a function that deletes it (and its data in every service)."""
    email = f"bench-{uuid.uuid4().hex[:10]}@example.invalid"
    register = ("mutation($e: String!) { register(input: {email: $e, password: \"bench password 123\", "
                "name: \"Benchmark\"}) { token account { id } } }")
    body = httpx.post(f"{base_url}/graphql", json={"query": register, "variables": {"e": email}}, timeout=30).json()
    token, account_id = body["data"]["register"]["token"], body["data"]["register"]["account"]["id"]
    subprocess.run([sys.executable, "-m", "accounts.cli", "make-admin", email], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    auth = {"Authorization": f"Bearer {token}"}
    body = httpx.post(f"{base_url}/graphql", headers=auth, timeout=30, json={
        "query": "mutation($id: ID!) { setPlan(accountId: $id, plan: PRO) { plan } }",
        "variables": {"id": account_id}}).json()
    assert body["data"]["setPlan"]["plan"] == "PRO", body

    def delete() -> None:
        httpx.post(f"{base_url}/graphql", headers=auth, timeout=30,
                   json={"query": "mutation { deleteAccount }"})
    return token, delete


async def measure(base_url: str, amqp_uri: str, token: str) -> list[tuple]:
    from medcode_common.aio_rpc import RpcClient  # the gateway's own client: the same wire path

    pro = {"Authorization": f"Bearer {token}"}
    fresh = itertools.cycle(distinct_queries())  # 7,000+: no repeats within a normal run
    rows = []
    async with RpcClient(amqp_uri, timeout=10, caller="bench") as rpc, \
            httpx.AsyncClient(base_url=base_url, timeout=30,
                              limits=httpx.Limits(max_connections=32)) as client:
        cases = [
            ("bare RPC round trip (careers.health)", lambda i: rpc.call("careers", "health")),
            ("bare gateway { __typename }", graphql(client, "{ __typename }", lambda i: {})),
            # Ten queries again and again: answered by the gateway's search cache.
            ("full stack searchCodes (repeated)", graphql(client, SEARCH, lambda i: {"q": SEARCH_QUERIES[i % len(SEARCH_QUERIES)]})),
            # Every query different: each one is an RPC and a search in the codes service.
            ("full stack searchCodes (distinct)", graphql(client, SEARCH, lambda i: {"q": next(fresh)})),
            # A PRO member's full page: authenticate, meter and page RPCs behind one query.
            ("full stack code page (PRO)", graphql(client, CODE, lambda i: dict(zip(("s", "c"), CODES[i % len(CODES)])),
                                                   headers=pro)),
            # The coding assistant's answers to the evaluation set, in turn, as a PRO member.
            (ASK_CASE, graphql(client, ASK, lambda i: {"q": QUESTIONS[i % len(QUESTIONS)].text}, headers=pro)),
            # Not cached by the gateway: every one is a careers RPC and an index search.
            ("full stack jobs search", graphql(client, JOBS, lambda i: {"f": JOB_FILTERS[i % len(JOB_FILTERS)]})),
        ]
        for name, request in cases:
            for _ in range(20):  # warm up caches and connections
                await request(0)
            for concurrency in CONCURRENCY:
                rps, lat = await closed_loop(request, concurrency, DURATION,
                                             at_least=len(QUESTIONS) if name == ASK_CASE else 0)
                lat.sort()
                rows.append((name, concurrency, rps, statistics.median(lat) * 1000,
                             lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, len(lat)))
    return rows


def report(rows: list[tuple]) -> None:
    print(f"\n{'operation':40} {'conc':>4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'n':>7}")
    for name, conc, rps, p50, p99, n in rows:
        print(f"{name:40} {conc:>4} {rps:>9.1f} {p50:>8.2f} {p99:>8.2f} {n:>7}")
    by = {(r[0], r[1]): r for r in rows}
    top = max(CONCURRENCY)
    bare_gw = by[("bare gateway { __typename }", top)][2]
    rpc_p50 = by[("bare RPC round trip (careers.health)", 1)][3]
    print()
    for name, goal_throughput, goal_latency in (
            ("full stack searchCodes (distinct)", " (goal >= 0.6x)", " (goal <= 2x)"),
            ("full stack searchCodes (repeated)", " (goal >= 0.6x)", " (goal <= 2x)"),
            ("full stack code page (PRO)", "", "")):
        throughput_ratio = by[(name, top)][2] / bare_gw
        latency_ratio = by[(name, 1)][3] / rpc_p50
        print(f"{name}: throughput {throughput_ratio:.2f}x bare gateway{goal_throughput} at concurrency {top}; "
              f"p50 {latency_ratio:.2f}x one RPC round trip{goal_latency} at concurrency 1")
    for conc in CONCURRENCY:
        _, _, rps, p50, p99, n = by[(ASK_CASE, conc)]
        print(f"assistant answer latency over the {len(QUESTIONS)}-question set at concurrency {conc}: "
              f"p50 {p50:.1f} ms, p99 {p99:.1f} ms ({n} answers, {rps:.1f}/s)")
    jobs, bare = "full stack jobs search", "bare gateway { __typename }"
    print(f"{jobs}: {by[(jobs, top)][2]:.1f} req/s = {by[(jobs, top)][2] / bare_gw:.2f}x bare gateway at "
          f"concurrency {top}; p50 {by[(jobs, 1)][3]:.2f} ms beside the bare gateway's {by[(bare, 1)][3]:.2f} ms "
          f"({by[(jobs, 1)][3] / by[(bare, 1)][3]:.2f}x) and {by[(jobs, 1)][3] / rpc_p50:.2f}x one RPC round trip "
          f"at concurrency 1")


def main() -> int:
    settings = load_settings()
    amqp_uri, drop_vhost = management_vhost(settings.AMQP_URI)
    port = free_port()
    env = dict(os.environ, AMQP_URI=amqp_uri, GATEWAY_PORT=str(port), GATEWAY_HOST="127.0.0.1",
               SMTP_PORT=str(free_port()), SMTP_RELAY=f"127.0.0.1:{free_port()}")
    # Every load comes from one address: the per-client rate limit would measure itself.
    env.setdefault("RATE_LIMIT_PER_MINUTE", "0")
    platform = Platform(env=env)
    try:
        platform.start()
        base = f"http://127.0.0.1:{port}"
        if not platform.wait_ready(f"{base}/readyz"):
            print("error: the stack did not become ready", file=sys.stderr)
            return 1
        print(f"stack ready; {DURATION:.0f} s per measurement, concurrency {CONCURRENCY}")
        token, delete_account = pro_account(base, env)
        try:
            report(asyncio.run(measure(base, amqp_uri, token)))
        finally:
            delete_account()
        rules_bench.bench_rules(base, DURATION)
    finally:
        platform.stop()
        drop_vhost()
    return 0


if __name__ == "__main__":
    sys.exit(main())
