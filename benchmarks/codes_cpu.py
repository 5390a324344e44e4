"""Where the codes service's CPU per search goes: the service alone (no gateway), on a
private vhost, answering search_codes RPCs at c=1 over distinct queries.

    .venv/bin/python -m benchmarks.codes_cpu --data-dir DIR [--requests 1500] [--gap-ms 12] [--profile [RAW]]

DIR holds loaded code sets (`DATA_DIR=DIR python -m codes.cli load`). Prints the codes
process's CPU per request (/proc, all threads), the wall p50 and, with --profile, a py-spy
sample of the process (py-spy must be on PATH or in the venv; --gil: samples holding the GIL,
so a wait in a socket call is not counted as work) cut into buckets: the handler
(search_codes: parse, plan, engine, highlight, models) and Nameko's own work around it.
--gap-ms spaces the requests as the gateway's c=1 run does (a request every ~15 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from benchmarks.codes_process import codes_service
from benchmarks.memory import cpu_seconds
from benchmarks.run import distinct_queries

WARM = 300  # requests before timing: caches and connections warm

# (bucket, a frame name that puts a sample in it), first match wins: the handler first.
BUCKETS = [
    ("search_codes (handler)", "CodesService.search_codes"),
    ("reply publish", "Responder.send_response"),
    ("ack", "ack_message"),
    ("telemetry", "opentelemetry"),
    ("metrics", "prometheus_client"),
    ("worker setup/teardown", "ServiceContainer._run_worker"),
    ("consume (amqp read)", "drain_events"),
    ("eventlet hub", "eventlet/hubs/"),
]


def buckets(raw: Iterable[str]) -> dict[str, float]:
    """Share of the samples of a py-spy `--format raw` profile (one `frame;frame;... count`
    line per stack) in each of BUCKETS, and "other"; shares sum to 1."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw:
        stack, _, count = line.strip().rpartition(" ")
        if not stack:
            continue
        for name, frame in BUCKETS:
            if frame in stack:
                counts[name] += int(count)
                break
        else:
            counts["other"] += int(count)
    total = sum(counts.values()) or 1
    return {name: n / total for name, n in counts.most_common()}


async def drive(amqp_uri: str, pid: int, queries: list[str], gap: float, profile: Path | None) -> dict:
    from medcode_common.aio_rpc.client import RpcClient

    async with RpcClient(amqp_uri, timeout=30, caller="bench") as rpc:
        for query in queries[:WARM]:
            await rpc.call("codes", "search_codes", request={"query": query, "first": 10})
        spy = None
        if profile is not None:
            spy = subprocess.Popen(
                [_py_spy(), "record", "-p", str(pid), "-r", "1000", "-f", "raw", "-o", str(profile)]
                + ["--nonblocking", "--gil"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await asyncio.sleep(1.5)  # attached
        timings = []
        cpu_before, started = cpu_seconds(pid), time.perf_counter()
        for query in queries[WARM:]:
            began = time.perf_counter()
            await rpc.call("codes", "search_codes", request={"query": query, "first": 10})
            timings.append(time.perf_counter() - began)
            if gap:
                await asyncio.sleep(gap)
        cpu_after, wall = cpu_seconds(pid), time.perf_counter() - started
        if spy is not None:
            spy.send_signal(2)  # py-spy writes the profile on SIGINT
            spy.wait(60)
    requests = len(timings)
    return {
        "requests": requests,
        "cpu_ms_per_request": (cpu_after - cpu_before) * 1000 / requests,
        "p50_ms": statistics.median(timings) * 1000,
        "rate": requests / wall,
    }


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="a DATA_DIR with the code sets loaded")
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--gap-ms", type=float, default=0.0, help="idle time between two requests")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="",
        metavar="RAW",
        help="sample the codes process with py-spy (CPU only: --gil), keeping the raw samples in RAW if given",
    )
    args = parser.parse_args()

    queries = distinct_queries()[: WARM + args.requests]
    with (
        tempfile.TemporaryDirectory(prefix="codes-cpu-") as tmp,
        codes_service(args.data_dir, "codes-cpu") as (
            service,
            amqp_uri,
        ),
    ):
        profile = None if args.profile is None else Path(args.profile or Path(tmp) / "profile.raw")
        figures = asyncio.run(drive(amqp_uri, service.pid, queries, args.gap_ms / 1000, profile))
        cpu = figures["cpu_ms_per_request"]
        print(
            f"codes service: {cpu:.3f} ms CPU per search_codes, p50 {figures['p50_ms']:.3f} ms, "
            f"{figures['rate']:.0f} req/s ({figures['requests']} distinct queries, c=1)"
        )
        if profile is not None:
            for name, share in buckets(profile.read_text().splitlines()).items():
                print(f"  {share * 100:5.1f}%  {share * cpu:6.3f} ms  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
