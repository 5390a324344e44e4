"""Small caches, in each gateway process, of answers that change only when a code-set
edition is loaded.

Search results, code pages (including "no such code") and a code's rules sections depend
only on the request and on the loaded editions: they are the same for every caller (the
meter is asked apart, on every view) and change only when an edition is loaded. Coders
repeat searches and pages again and again, so answering repeats here saves an RPC and the
codes service's work. Every cache is cleared when the codes service announces
`edition_loaded`; the time-to-live bounds staleness should that event ever be missed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cachetools import TTLCache

DEFAULT_SIZE = 4096
DEFAULT_TTL = 60.0  # seconds
_ABSENT = object()


class EditionCache:
    """cachetools' LRU-with-TTL, with hit and miss counts for /metrics (`name` names its
    counter: gateway_<name>_cache_total). One asyncio event loop uses it, and nothing here
    awaits, so no lock is needed."""

    def __init__(
        self,
        name: str,
        maxsize: int = DEFAULT_SIZE,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
        description: str = "",
    ):
        self.name, self.maxsize, self.ttl = name, maxsize, ttl
        self.description = description or f"{name} answered from the gateway's cache (hit) or not (miss)."
        self._entries: TTLCache[Hashable, Any] = TTLCache(maxsize=max(maxsize, 1), ttl=ttl, timer=clock)
        self.hits = self.misses = 0
        # Bumped by clear(): an answer asked for before a new edition is not kept after it.
        self.epoch = 0

    def get(self, key: Hashable, default: Any = None, usable: Callable[[Any], bool] | None = None) -> Any:
        """The value kept for `key`, or `default` (a miss). A kept value that `usable` refuses
        (it holds too little for this request) counts as a miss too."""
        value = self._entries.get(key, _ABSENT)
        if value is _ABSENT or (usable is not None and not usable(value)):
            self.misses += 1
            return default
        self.hits += 1
        return value

    def peek(self, key: Hashable, default: Any = None) -> Any:
        """Like get, without counting (a look that answers nothing by itself)."""
        return self._entries.get(key, default)

    def put(self, key: Hashable, value: Any, epoch: int | None = None) -> None:
        """Keep `value` (None is a value: "no such code"). With `epoch` (self.epoch read before
        the RPC that answered), nothing is kept when the cache was cleared meanwhile."""
        if self.maxsize > 0 and (epoch is None or epoch == self.epoch):  # size 0 turns the cache off
            self._entries[key] = value

    def clear(self, _event: dict | None = None) -> None:
        self._entries.clear()
        self.epoch += 1

    def __len__(self) -> int:
        self._entries.expire()
        return len(self._entries)


# attribute of EditionCaches, counter name, what it counts, settings prefix (_SIZE, _TTL)
KINDS = (
    ("search", "search", "searchCodes answered from the cache (hit) or not (miss).", "GATEWAY_SEARCH_CACHE"),
    (
        "code_pages",
        "code_page",
        "Code pages (get_codes) answered from the cache (hit) or not.",
        "GATEWAY_CODE_PAGE_CACHE",
    ),
    (
        "code_rules",
        "code_rules",
        "Rules sections of code pages (get_code_rules) answered from the cache (hit) or not.",
        "GATEWAY_CODE_RULES_CACHE",
    ),
)


def _default(attribute: str) -> Callable[[], EditionCache]:
    name, description = next((kind[1], kind[2]) for kind in KINDS if kind[0] == attribute)
    return lambda: EditionCache(name, description=description)


@dataclass
class EditionCaches:
    """The process's caches (gateway.settings: GATEWAY_*_CACHE_SIZE / _TTL), cleared together."""

    search: EditionCache = field(default_factory=_default("search"))
    code_pages: EditionCache = field(default_factory=_default("code_pages"))
    code_rules: EditionCache = field(default_factory=_default("code_rules"))

    @classmethod
    def from_settings(cls, settings: Any) -> EditionCaches:
        return cls(
            **{
                attribute: EditionCache(
                    name,
                    getattr(settings, f"{prefix}_SIZE"),
                    getattr(settings, f"{prefix}_TTL"),
                    description=description,
                )
                for attribute, name, description, prefix in KINDS
            }
        )

    def __iter__(self) -> Iterator[EditionCache]:
        return iter((self.search, self.code_pages, self.code_rules))

    def clear(self, event: dict | None = None) -> None:
        """On `codes.edition_loaded`: a code may have changed, gone or come."""
        for cache in self:
            cache.clear(event)
