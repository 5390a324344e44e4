"""Code pages kept in memory per codes-service process.

A code page depends only on the loaded editions (code sets, and the alphabetic index for
lay terms), so it can be served again without touching the database until an edition
changes. Which editions are current is checked at most every `refresh_seconds`, as the
search index's refresh is: after a load, both move to the new edition within that time.
Unknown codes are cached too (as None), so repeated misses cost nothing either.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence

Page = dict | None
_MISSING = object()
Key = tuple[str, str]  # (system, code key)


class PageCache:
    def __init__(self, maxsize: int = 20000, refresh_seconds: float = 2.0, clock=time.monotonic):
        self.maxsize, self.refresh_seconds, self.clock = maxsize, refresh_seconds, clock
        self._pages: OrderedDict[Key, Page] = OrderedDict()
        self._generation: Hashable = None
        self._checked_at: float | None = None

    def get_many(self, keys: Sequence[Key], load: Callable[[list[Key]], list[Page]],
                 generation: Callable[[], Hashable]) -> list[Page]:
        """The pages of `keys`, in order; `load(missing)` fetches the ones not cached (in
        the order asked), `generation()` names the current editions.

        Other workers share the cache and run while this one waits for the database (the
        load, the generation check): between any two steps here a key may be evicted or
        the whole cache cleared. So the answer is built from what this call found or
        loaded itself, never by looking the keys up again afterwards."""
        self._follow(generation)
        found: dict[Key, Page] = {}
        for key in dict.fromkeys(keys):
            page = self._pages.get(key, _MISSING)
            if page is not _MISSING:
                found[key] = page
        missing = [key for key in dict.fromkeys(keys) if key not in found]
        if missing:
            loaded = dict(zip(missing, load(missing)))
            found.update(loaded)
            self._pages.update(loaded)
        for key in found:
            if key in self._pages:
                self._pages.move_to_end(key)
        while len(self._pages) > self.maxsize:
            self._pages.popitem(last=False)
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
