"""A small cache of search results in each gateway process.

Search results depend only on the request and on the loaded code-set editions: they are
the same for every caller (search is not metered) and change only when an edition is
loaded. Typing traffic repeats the same prefixes again and again, so answering repeats
here saves an RPC and a search. The cache is cleared when the codes service announces
`edition_loaded`; the time-to-live bounds staleness should that event ever be missed.
"""
from __future__ import annotations

import time
from collections import OrderedDict

DEFAULT_SIZE = 4096
DEFAULT_TTL = 60.0  # seconds


class SearchCache:
    def __init__(self, maxsize: int = DEFAULT_SIZE, ttl: float = DEFAULT_TTL, clock=time.monotonic):
        self.maxsize, self.ttl, self.clock = maxsize, ttl, clock
        self._entries: OrderedDict[str, tuple[float, object]] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: str) -> object | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < self.clock():
            if entry is not None:
                del self._entries[key]
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[1]

    def put(self, key: str, result: object) -> None:
        if self.maxsize <= 0:
            return
        self._entries[key] = (self.clock() + self.ttl, result)
        self._entries.move_to_end(key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)

    def clear(self, _event: dict | None = None) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
