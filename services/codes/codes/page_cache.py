"""Code pages kept in memory per codes-service process.

A code page depends only on the loaded editions (code sets, and the alphabetic index for
lay terms), so it can be served again without touching the database until an edition
changes. Which editions are current is checked at most every `refresh_seconds`, as the
search index's refresh is: after a load, both move to the new edition within that time.
Unknown codes are cached too (as None), so repeated misses cost nothing either.

A page is kept as compressed JSON, not as its dict. Pages are small (1.8 KB of JSON on
average) and alike, so each is deflated against a preset dictionary: the JSON of the first
TRAINING_PAGES pages this cache stores, joined (their field names, note headings, sources
and common title words recur in every page). That makes a page some 250 bytes instead of
750 with zlib alone (4.4 KB as a dict), so a full cache of 10,000 pages is ~5 MB of the codes
process's 150 MB (issue 13); packing one costs ~0.1 ms and unpacking ~5 us, next to
the milliseconds of its RPC. The pages stored before the dictionary exists stay deflated
without it (their first byte says which).
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Hashable, Sequence

from cachetools import LRUCache

Page = dict | None
Key = tuple[str, str]  # (system, code key)


TRAINING_PAGES = 24  # distinct pages whose JSON makes the dictionary (zlib uses its last 32 KB)
_PLAIN, _PRESET = b"0", b"1"  # an entry's first byte: deflated alone, or against the dictionary
_WINDOW = -15  # raw deflate: no zlib header or checksum (an entry is in memory, not on a wire)


class _Packer:
    """Deflates pages against a dictionary made of the first pages it packs."""

    def __init__(self, training_pages: int = TRAINING_PAGES):
        self.training_pages = training_pages
        self.dictionary: bytes | None = None
        self._training: list[bytes] = []

    def pack(self, page: Page) -> bytes | None:
        if page is None:
            return None
        text = json.dumps(page, separators=(",", ":")).encode()
        if self.dictionary is None:
            self._training.append(text)
            if len(self._training) >= self.training_pages:
                self.dictionary = b"".join(self._training)[-32768:]
                self._training = []
            return _PLAIN + zlib.compress(text, 1)
        deflate = zlib.compressobj(6, zlib.DEFLATED, _WINDOW, 9, zlib.Z_DEFAULT_STRATEGY, self.dictionary)
        return _PRESET + deflate.compress(text) + deflate.flush()

    def unpack(self, packed: bytes | None) -> Page:
        if packed is None:
            return None
        body = memoryview(packed)[1:]
        if packed[:1] == _PLAIN:
            return json.loads(zlib.decompress(body))
        assert self.dictionary is not None  # an entry is _PRESET only once there is one
        return json.loads(zlib.decompressobj(_WINDOW, self.dictionary).decompress(body))


class PageCache:
    def __init__(self, maxsize: int = 10000, refresh_seconds: float = 2.0, clock: Callable[[], float] = time.monotonic):
        self.maxsize, self.refresh_seconds, self.clock = maxsize, refresh_seconds, clock
        self._pages: LRUCache[Key, bytes | None] = LRUCache(maxsize=maxsize)
        self._packer = _Packer()
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
                found[key] = self._packer.unpack(self._pages[key])  # also marks the key recently used
        missing = [key for key in dict.fromkeys(keys) if key not in found]
        if missing:
            loaded = dict(zip(missing, load(missing), strict=True))
            found.update(loaded)
            self._pages.update(
                (key, self._packer.pack(page)) for key, page in loaded.items()
            )  # evicts the least recently used
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
