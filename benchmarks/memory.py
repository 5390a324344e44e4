"""Resident memory of the platform's processes, from /proc (Linux).

A process's figure is its VmRSS plus that of its descendants, so a service that starts a
helper process is counted whole.
"""

from __future__ import annotations

from pathlib import Path

PROC = Path("/proc")


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
