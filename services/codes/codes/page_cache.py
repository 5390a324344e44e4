"""Code pages kept in memory per codes-service process.

A code page depends only on the loaded editions (code sets, and the alphabetic index for
lay terms), so it can be served again without touching the database until an edition
changes. Which editions are current is checked at most every `refresh_seconds`, as the
search index's refresh is: after a load, both move to the new edition within that time.
Unknown codes are cached too (as None), so repeated misses cost nothing either.

A page is kept as compressed JSON, not as its dict: about 1 KB instead of 4.4 KB, so a
full cache stays within the codes process's memory budget (issue 13: 150 MB); unpacking
one costs microseconds, next to the milliseconds of its RPC.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Hashable, Sequence

from cachetools import LRUCache

Page = dict | None
Key = tuple[str, str]  # (system, code key)


def _pack(page: Page) -> bytes | None:
    return None if page is None else zlib.compress(json.dumps(page, separators=(",", ":")).encode(), 1)


def _unpack(packed: bytes | None) -> Page:
    return None if packed is None else json.loads(zlib.decompress(packed))


class PageCache:
    def __init__(self, maxsize: int = 20000, refresh_seconds: float = 2.0, clock: Callable[[], float] = time.monotonic):
        self.maxsize, self.refresh_seconds, self.clock = maxsize, refresh_seconds, clock
        self._pages: LRUCache[Key, bytes | None] = LRUCache(maxsize=maxsize)
        self._generation: Hashable = None
        self._checked_at: float | None = None

    def get_many(
        self, keys: Sequence[Key], load: Callable[[list[Key]], list[Page]], generation: Callable[[], Hashable]
    ) -> list[Page]:
        """The pages of `keys`, in order; `load(missing)` fetches the ones not cached (in
        the order asked), `generation()` names the current editions.

        Other workers share the cache and run while this one waits for the database (the
        load, the generation check): between any two steps here a key may be evicted or
        the whole cache cleared. So the answer is built from what this call found or
        loaded itself, never by looking the keys up again afterwards. (Each cachetools
        call on its own never yields to another green thread.)"""
        self._follow(generation)
        found: dict[Key, Page] = {}
        for key in dict.fromkeys(keys):
            if key in self._pages:
                found[key] = _unpack(self._pages[key])  # also marks the key recently used
        missing = [key for key in dict.fromkeys(keys) if key not in found]
        if missing:
            loaded = dict(zip(missing, load(missing), strict=True))
            found.update(loaded)
            self._pages.update((key, _pack(page)) for key, page in loaded.items())  # evicts the least recently used
        return [found[key] for key in keys]

    def _follow(self, generation: Callable[[], Hashable]) -> None:
        now = self.clock()
        if self._checked_at is not None and now - self._checked_at < self.refresh_seconds:
            return
        current = generation()
        if current != self._generation:
            self._pages.clear()
            self._generation = current
        self._checked_at = now

    def __len__(self) -> int:
        return len(self._pages)
