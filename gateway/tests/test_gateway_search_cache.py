"""The gateway's search cache: LRU with a time-to-live, cleared on edition_loaded."""

from gateway.search_cache import SearchCache


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_hit_miss_and_ttl():
    clock = Clock()
    cache = SearchCache(maxsize=10, ttl=60, clock=clock)
    assert cache.get("a") is None
    cache.put("a", {"n": 1})
    assert cache.get("a") == {"n": 1}
    clock.now = 61
    assert cache.get("a") is None and len(cache) == 0
    assert (cache.hits, cache.misses) == (1, 2)


def test_least_recently_used_goes_first():
    cache = SearchCache(maxsize=2, ttl=60)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.get("a")
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3


def test_clear_on_event_and_size_zero_disables():
    cache = SearchCache(maxsize=5, ttl=60)
    cache.put("a", 1)
    cache.clear({"schema": "codes.edition_loaded/1"})
    assert cache.get("a") is None
    off = SearchCache(maxsize=0, ttl=60)
    off.put("a", 1)
    assert off.get("a") is None
