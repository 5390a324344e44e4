"""Load from wrk: closed-loop GraphQL POSTs at a given concurrency, through benchmarks/graphql.lua.

wrk runs outside Python, so the load generator takes far less of the two cores than the
platform it measures (a Python loop took about as much as the gateway).
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

LUA_SCRIPT = Path(__file__).with_name("graphql.lua")
MARKER = "WRK_JSON "


class WrkError(RuntimeError):
    """wrk could not run, or the platform failed the requests."""


@dataclass(frozen=True)
class Load:
    """What one wrk run measured."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failed: int  # non-200 replies and replies with GraphQL errors
    socket_errors: int
    first_failure: str = ""
    cpu_seconds: float = 0.0  # CPU time wrk itself used (user + system, all its threads)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def graphql_body(query: str, variables: dict | None = None) -> str:
    """One line of a bodies file."""
    return json.dumps({"query": query, "variables": variables or {}}, separators=(",", ":"))


def parse_output(stdout: str) -> Load:
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            return Load(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                failed=data["failed"],
                socket_errors=data["socket_errors"],
                first_failure=data["first_failure"],
            )
    raise WrkError(f"wrk printed no result line:\n{stdout[-2000:]}")


def run(
    base_url: str,
    bodies: list[str],
    *,
    concurrency: int,
    seconds: float,
    headers: dict[str, str] | None = None,
    allow_failures: bool = False,
) -> Load:
    """POST `bodies` to base_url/graphql in turn from `concurrency` connections for `seconds`."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise WrkError("wrk is not installed (make bench installs it: scripts/ensure-wrk.sh)")
    threads = min(concurrency, 2)  # one per core: more threads only compete with the platform
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", prefix="wrk-bodies-") as file:
        file.write("\n".join(bodies) + "\n")
        file.flush()
        command = [
            wrk,
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            str(LUA_SCRIPT),
        ]
        for name, value in (headers or {}).items():
            command += ["-H", f"{name}: {value}"]
        command += [base_url, "--", file.name, str(threads)]
        # wrk is the only child this process waits for meanwhile: its CPU time is the growth.
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise WrkError(f"wrk exited with {done.returncode}: {done.stderr.strip() or done.stdout[-2000:]}")
    load = replace(
        parse_output(done.stdout),
        cpu_seconds=(children_after.ru_utime + children_after.ru_stime)
        - (children_before.ru_utime + children_before.ru_stime),
    )
    if load.requests == 0 or (load.failed and not allow_failures):
        raise WrkError(f"{load.failed} of {load.requests} requests failed; first: {load.first_failure}")
    return load
