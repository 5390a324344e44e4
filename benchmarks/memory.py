"""Resident memory and CPU time of the platform's processes, from /proc (Linux).

A process's figure is its own plus that of its descendants, so a service that starts a
helper process is counted whole.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    """VmRSS (or RssAnon, RssFile) of one process in KiB (0 when it is gone)."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in (PROC / str(pid) / "task").iterdir():
            text = (task / "children").read_text().split()
            found.extend(int(child) for child in text)
    except OSError:
        pass
    return found


def tree_rss_mb(pid: int, field: str = "VmRSS") -> float:
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss_kb(current, field)
        todo.extend(children(current))
    return total / 1024


def rss_by_name(pids: dict[str, int], field: str = "VmRSS") -> dict[str, float]:
    """{process name: RSS in MB} for {name: pid}. RssFile is the part that is mapped files
    (shared libraries, the search index's pages): the kernel can drop it; RssAnon cannot."""
    return {name: round(tree_rss_mb(pid, field), 1) for name, pid in pids.items()}


# -- CPU time ------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (all its threads) and of its children it has
    waited for, in seconds (0 when it is gone): /proc/<pid>/stat fields 14-17."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return 0.0
    # The command name (field 2) is in parentheses and may hold spaces: count after it.
    fields = text[text.rindex(")") + 2 :].split()
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float:
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += cpu_seconds(current)
        todo.extend(children(current))
    return total


def cpu_by_name(pids: dict[str, int]) -> dict[str, float]:
    """{process name: CPU seconds so far, with its descendants} for {name: pid}."""
    return {name: tree_cpu_seconds(pid) for name, pid in pids.items()}


def pids_named(command: str) -> list[int]:
    """Every process whose command name (/proc/<pid>/comm) is `command`, e.g. "beam.smp"."""
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == command:
                    found.append(int(entry.name))
            except OSError:
                continue
    return sorted(found)


def cpu_ms_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    """{process: CPU milliseconds per request} between two cpu_by_name() readings."""
    if requests <= 0:
        return {}
    return {name: round((after[name] - before.get(name, 0.0)) * 1000 / requests, 4) for name in after}


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has been busy so far (all processes, ours and
    anybody else's): /proc/stat's first line less idle and iowait."""
    try:
        first = (PROC / "stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return 0.0
    ticks = [int(value) for value in first[1:9]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS
