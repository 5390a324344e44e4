"""A small cache of search results in each gateway process.

Search results depend only on the request and on the loaded code-set editions: they are
the same for every caller (search is not metered) and change only when an edition is
loaded. Typing traffic repeats the same prefixes again and again, so answering repeats
here saves an RPC and a search. The cache is cleared when the codes service announces
`edition_loaded`; the time-to-live bounds staleness should that event ever be missed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cachetools import TTLCache

DEFAULT_SIZE = 4096
DEFAULT_TTL = 60.0  # seconds


class SearchCache:
    """cachetools' LRU-with-TTL, with hit and miss counts for /metrics. One asyncio event
    loop uses it, and nothing here awaits, so no lock is needed."""

    def __init__(
        self, maxsize: int = DEFAULT_SIZE, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic
    ):
        self.maxsize, self.ttl = maxsize, ttl
        self._entries: TTLCache[str, object] = TTLCache(maxsize=max(maxsize, 1), ttl=ttl, timer=clock)
        self.hits = self.misses = 0

    def get(self, key: str) -> object | None:
        result = self._entries.get(key)
        if result is None:
            self.misses += 1
        else:
            self.hits += 1
        return result

    def put(self, key: str, result: object) -> None:
        if self.maxsize > 0:  # 0 turns the cache off
            self._entries[key] = result

    def clear(self, _event: dict | None = None) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        self._entries.expire()
        return len(self._entries)
