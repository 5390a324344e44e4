"""The bench's table (issue 13, "Where it stands") and var/bench/latest.json, from figures.

Pure functions of the measured figures, so a test can check every row and ratio without
timing anything. A figure that was not measured (a step skipped or failed) still gets its
row, shown as "n/a".

The profile: every load the bench drives (each wrk row, and the bare RPC rows) also records
the CPU time each platform process used per request (figures["cpu_ms_per_request"][figure
key], from cpu_profile). Under the table, each goal that does not hold is shown with that
breakdown and with the throughput the two cores would allow were the platform CPU-bound
(cores / CPU per request): what remains, and where.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

RSS_GOAL_MB = 150.0


@dataclass(frozen=True)
class Spec:
    """One row: figure / baseline, held to `goal` (">= 0.6" or "<= 2" on the ratio; "abs <= 0.2"
    on the figure itself, in its unit)."""

    path: str
    figure: str  # key in the figures dict
    unit: str  # "req/s", "ms", "s"
    baseline_name: str = ""
    baseline: str = ""  # key in the figures dict
    goal: str = ""


# The c=1 rows held to a ratio are measured in rounds beside their baseline (benchmarks.run.paired_c1_rows).
PAIRED_RPC = "one bare RPC round trip p50 (the same round; median of 3 rounds)"

SPECS = [
    Spec(
        "searchCodes, every query different (c=8)",
        "search_distinct_c8_rps",
        "req/s",
        "bare gateway { __typename } (c=8)",
        "bare_gateway_c8_rps",
        ">= 0.6",
    ),
    Spec(
        "one bare RPC at c=8 (careers.health, the gateway's RpcClient)",
        "rpc_c8_rps",
        "req/s",
        "bare gateway { __typename } (c=8)",
        "bare_gateway_c8_rps",
    ),
    Spec(
        "searchCodes p50 at c=1",
        "search_distinct_c1_p50_ms",
        "ms",
        PAIRED_RPC,
        "search_distinct_c1_p50_ms_rpc_p50_ms",
        "<= 2",
    ),
    Spec(
        "searchCodes, ten queries repeated (gateway cache, c=8)",
        "search_repeated_c8_rps",
        "req/s",
        "bare gateway { __typename } (c=8)",
        "bare_gateway_c8_rps",
    ),
    Spec(
        "search in the codes process (EmbeddedBackend.search) p50",
        "engine_search_p50_ms",
        "ms",
        "plain tantivy query on the same index p50",
        "tantivy_query_p50_ms",
    ),
    Spec(
        "code page as a PRO member (c=8)",
        "code_page_pro_c8_rps",
        "req/s",
        "bare gateway { __typename } (c=8)",
        "bare_gateway_c8_rps",
        ">= 0.5",
    ),
    Spec(
        "code page p50 at c=1",
        "code_page_pro_c1_p50_ms",
        "ms",
        PAIRED_RPC,
        "code_page_pro_c1_p50_ms_rpc_p50_ms",
        "<= 2",
    ),
    Spec(
        "code page, cookie-less guest (c=20)",
        "code_page_guest_c20_rps",
        "req/s",
        "bare gateway { __typename } (c=20)",
        "bare_gateway_c20_rps",
        ">= 0.5",
    ),
    Spec("jobs search (c=8)", "jobs_c8_rps", "req/s", "bare gateway { __typename } (c=8)", "bare_gateway_c8_rps"),
    Spec("assistant ask p50 at c=1", "ask_c1_p50_ms", "ms", "one bare RPC round trip p50", "rpc_p50_ms"),
    Spec(
        "checkClaim 10 lines through GraphQL p50 at c=1",
        "check_claim_graphql_c1_p50_ms",
        "ms",
        "one bare RPC round trip p50",
        "rpc_p50_ms",
    ),
    Spec("NCCI PTP practitioner load", "ptp_load_s", "s", "plain SQLite executemany + index", "ptp_sqlite_s", "<= 1.5"),
    Spec(
        "check_claim, 10 lines, in the service p50 (a new claim of codes seen before)",
        "check_claim_p50_ms",
        "ms",
        "indexed pair lookup in plain SQLite p50",
        "check_claim_sqlite_p50_ms",
        "abs <= 0.2",
    ),
    Spec(
        "check_claim, 10 lines, in the service p50 (codes no claim named before)",
        "check_claim_unseen_p50_ms",
        "ms",
        "indexed pair lookup in plain SQLite p50",
        "check_claim_sqlite_p50_ms",
        "abs <= 0.2",
    ),
    Spec(
        "check_claim, the same 10 lines again (per-claim cache) p50",
        "check_claim_repeated_p50_ms",
        "ms",
        "indexed pair lookup in plain SQLite p50",
        "check_claim_sqlite_p50_ms",
    ),
    Spec("first `make run` on a fresh data directory", "first_run_ready_s", "s", goal="abs <= 60"),
]


@dataclass(frozen=True)
class Row:
    path: str
    figure: float | None
    unit: str
    baseline_name: str
    baseline: float | None
    ratio: float | None
    goal: str
    holds: bool | None  # None: no goal, or not measured
    figure_key: str = ""  # the figures' keys of the figure and its baseline (their CPU profiles)
    baseline_key: str = ""


def median_round(rounds: list[dict]) -> dict:
    """Of rounds that each measured a figure beside its baseline ({"ratio": ...}), the
    one with the median ratio (the upper middle of an even count): what the row reports,
    figure and baseline from the same round."""
    return sorted(rounds, key=lambda measured: measured["ratio"])[len(rounds) // 2]


def _holds(goal: str, figure: float | None, ratio: float | None) -> bool | None:
    if not goal:
        return None
    absolute = goal.startswith("abs ")
    operator, limit = goal.removeprefix("abs ").split()
    value = figure if absolute else ratio
    if value is None:
        return None
    return value >= float(limit) if operator == ">=" else value <= float(limit)


def build_rows(figures: dict) -> list[Row]:
    """Every row of SPECS, then one per process's RSS (figures["rss_mb"][name] =
    {"idle": MB, "loaded": MB}; held to RSS_GOAL_MB after the load), and one more for a
    process whose caches the bench also filled to their bounds ("full": MB, held to the
    same goal, beside its RSS after the load)."""
    rows = []
    for spec in SPECS:
        figure = figures.get(spec.figure)
        baseline = figures.get(spec.baseline) if spec.baseline else None
        ratio = figure / baseline if figure is not None and baseline else None
        rows.append(
            Row(
                spec.path,
                figure,
                spec.unit,
                spec.baseline_name,
                baseline,
                ratio,
                spec.goal,
                _holds(spec.goal, figure, ratio),
                spec.figure,
                spec.baseline,
            )
        )
    for name, rss in sorted(figures.get("rss_mb", {}).items()):
        idle, loaded = rss.get("idle"), rss.get("loaded")
        rows.append(_rss_row(f"RSS {name}, idle after a full load", loaded, "idle right after start", idle))
        if "full" in rss:
            rows.append(_rss_row(f"RSS {name} with every cache full", rss["full"], "idle after a full load", loaded))
    return rows


def _rss_row(path: str, rss: float | None, baseline_name: str, baseline: float | None) -> Row:
    """A process's RSS against the memory goal, beside the RSS of an earlier state."""
    goal = f"abs <= {RSS_GOAL_MB:g}"
    ratio = rss / baseline if rss is not None and baseline else None
    return Row(path, rss, "MB", baseline_name, baseline, ratio, goal, _holds(goal, rss, None))


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"
    return f"{text} {unit}".strip()


def _goal_text(goal: str, unit: str) -> str:
    if not goal:
        return ""
    if goal.startswith("abs "):
        return f"{goal.removeprefix('abs ')} {unit}"
    return f"{goal}x"


def render(rows: list[Row]) -> str:
    """The markdown table of ISSUE-13.md plus the goal's verdict."""
    lines = [
        "| path | figure | baseline in the same run | ratio | goal | holds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        baseline = f"{row.baseline_name} {_number(row.baseline, row.unit)}" if row.baseline_name else ""
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else ""
        holds = {True: "yes", False: "NO", None: "" if not row.goal else "n/a"}[row.holds]
        lines.append(
            f"| {row.path} | {_number(row.figure, row.unit)} | {baseline} | {ratio} | "
            f"{_goal_text(row.goal, row.unit)} | {holds} |"
        )
    return "\n".join(lines)


# -- the CPU profile ------------------------------------------------------------------------
def cpu_profile(
    ms_by_process: dict[str, float],
    requests: int,
    seconds: float,
    machine_busy_seconds: float | None = None,
    cores: int | None = None,
) -> dict:
    """One load's CPU per request by process (ms), with how many cores the platform and the
    load generator kept busy, how many the whole machine did (other work shares it), and the
    throughput `cores` would allow were the platform CPU-bound (cores / CPU per request)."""
    cores = cores or os.cpu_count() or 1
    total = sum(ms_by_process.values())
    return {
        "requests": requests,
        "ms_per_request": dict(sorted(ms_by_process.items(), key=lambda item: -item[1])),
        "total_ms": round(total, 4),
        "cores_busy": round(total * requests / 1000 / seconds, 2) if seconds else None,
        "machine_cores_busy": round(machine_busy_seconds / seconds, 2)
        if seconds and machine_busy_seconds is not None
        else None,
        "cores": cores,
        "cpu_bound_rps": round(cores * 1000 / total, 1) if total else None,
    }


SHOWN_MS = 0.01  # smaller shares are summed as "others"


def profile_text(profile: dict) -> str:
    """`gateway 2.1 + codes 0.80 + rabbitmq 0.50 + wrk 0.10 = 3.5 ms CPU/request; 1.9 of 2
    cores busy (machine 2.0); CPU-bound at 571 req/s`."""
    shown = {name: ms for name, ms in profile["ms_per_request"].items() if ms >= SHOWN_MS}
    rest = sum(ms for name, ms in profile["ms_per_request"].items() if name not in shown)
    parts = [f"{name} {ms:.3g}" for name, ms in shown.items()] + ([f"others {rest:.2g}"] if rest > 0 else [])
    text = f"{' + '.join(parts) or 'nothing'} = {profile['total_ms']:.3g} ms CPU/request"
    if profile.get("cores_busy") is not None:
        text += f"; {profile['cores_busy']:.2g} of {profile['cores']} cores busy"
        if profile.get("machine_cores_busy") is not None:
            text += f" (whole machine {profile['machine_cores_busy']:.2g})"
    if profile.get("cpu_bound_rps"):
        text += f"; CPU-bound at {_number(profile['cpu_bound_rps'])} req/s"
    if profile.get("rpc_calls_per_request"):
        calls = ", ".join(f"{target} {n:.2g}" for target, n in profile["rpc_calls_per_request"].items())
        text += f"; RPCs per request: {calls}"
    return text


def rpc_calls_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    """The gateway's RPC calls by "service.method" between two readings of its counters,
    per request (fewer than one where concurrent requests' calls went as one batch call)."""
    if not requests:
        return {}
    grown = {target: after[target] - before.get(target, 0.0) for target in after}
    return {target: round(n / requests, 3) for target, n in sorted(grown.items()) if n > 0}


def unmet_profiles(rows: list[Row], figures: dict) -> dict[str, dict]:
    """{row path: {"figure": profile, "baseline": profile}} of every goal that does not hold
    (a side without a CPU profile, such as an in-process measurement, is left out)."""
    profiles = figures.get("cpu_ms_per_request", {})
    unmet = {}
    for row in rows:
        if row.holds is False:
            sides = {"figure": profiles.get(row.figure_key), "baseline": profiles.get(row.baseline_key)}
            unmet[row.path] = {side: profile for side, profile in sides.items() if profile}
    return unmet


def render_profile(rows: list[Row], figures: dict) -> str:
    """The profile of what remains: each unmet goal with the CPU its requests took, by process."""
    profiles = figures.get("cpu_ms_per_request", {})
    lines = ["CPU per request by process (ms), for each goal that does not hold:"]
    by_path = {row.path: row for row in rows}
    for path, sides in unmet_profiles(rows, figures).items():
        row = by_path[path]
        if "figure" in sides:
            lines.append(f"- {path}: {profile_text(sides['figure'])}")
        else:
            lines.append(f"- {path}: measured in one process or as memory: no per-process CPU profile")
        if "baseline" in sides:
            lines.append(f"    baseline, {row.baseline_name}: {profile_text(sides['baseline'])}")
    if len(lines) == 1:
        lines.append("- every goal holds")
    floor = profiles.get("rpc_c8_rps")
    if floor:
        lines.append(f"The floor of any RPC-backed request, one bare RPC at c=8: {profile_text(floor)}")
    return "\n".join(lines)


def machine(rabbitmq_version: str | None = None, wrk_version: str | None = None) -> dict:
    """What the figures were measured on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    memory_mb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_mb = int(line.split()[1]) // 1024
    except OSError:
        pass
    os_name = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = f"{line.split('=', 1)[1].strip(chr(34))} (kernel {platform.release()})"
    except OSError:
        pass

    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_mb": memory_mb,
        "os": os_name,
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "rabbitmq": rabbitmq_version,
        "wrk": wrk_version,
        "tantivy": version("tantivy"),
        "nameko": version("nameko"),
        "strawberry-graphql": version("strawberry-graphql"),
    }


def latest_json(figures: dict, rows: list[Row], machine_description: dict, notes: list[str] | None = None) -> dict:
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_description,
        "figures": figures,
        "rows": [asdict(row) for row in rows],
        "unmet_goal_profiles": unmet_profiles(rows, figures),
        "notes": notes or [],
    }


def write_latest(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
