"""The gateway's edition caches: LRU with a time-to-live, cleared on edition_loaded."""

from gateway.edition_cache import EditionCache, EditionCaches
from gateway.settings import GatewaySettings


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_hit_miss_and_ttl():
    clock = Clock()
    cache = EditionCache("search", maxsize=10, ttl=60, clock=clock)
    assert cache.get("a") is None
    cache.put("a", {"n": 1})
    assert cache.get("a") == {"n": 1}
    clock.now = 61
    assert cache.get("a") is None and len(cache) == 0
    assert (cache.hits, cache.misses) == (1, 2)


def test_least_recently_used_goes_first():
    cache = EditionCache("search", maxsize=2, ttl=60)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.get("a")
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3


def test_clear_on_event_and_size_zero_disables():
    cache = EditionCache("search", maxsize=5, ttl=60)
    cache.put("a", 1)
    cache.clear({"schema": "codes.edition_loaded/1"})
    assert cache.get("a") is None
    off = EditionCache("search", maxsize=0, ttl=60)
    off.put("a", 1)
    assert off.get("a") is None


def test_none_is_a_value_and_peek_counts_nothing():
    cache = EditionCache("code_page", maxsize=5, ttl=60)
    absent = object()
    assert cache.get("Q999", absent) is absent
    cache.put("Q999", None)  # "no such code"
    assert cache.get("Q999", absent) is None and cache.peek("Q999", absent) is None
    assert cache.peek("K220", absent) is absent
    assert (cache.hits, cache.misses) == (1, 1)


def test_a_value_too_small_for_the_request_is_a_miss():
    cache = EditionCache("code_rules", maxsize=5, ttl=60)
    cache.put("J9035", (10, "ten edits"))
    assert cache.get("J9035", usable=lambda entry: entry[0] >= 5) == (10, "ten edits")
    assert cache.get("J9035", usable=lambda entry: entry[0] >= 50) is None
    assert (cache.hits, cache.misses) == (1, 1)


def test_an_answer_that_crossed_a_new_edition_is_not_kept():
    cache = EditionCache("code_page", maxsize=5, ttl=60)
    epoch = cache.epoch  # read before the RPC...
    cache.clear({"schema": "codes.edition_loaded/1"})  # ...the edition loads meanwhile
    cache.put("K220", "the old edition's page", epoch)
    assert cache.peek("K220") is None
    cache.put("K220", "the new page", cache.epoch)
    assert cache.peek("K220") == "the new page"


def test_the_caches_are_configured_and_cleared_together():
    settings = GatewaySettings(
        GATEWAY_SEARCH_CACHE_SIZE=7, GATEWAY_CODE_PAGE_CACHE_SIZE=8, GATEWAY_CODE_RULES_CACHE_TTL=9.0
    )
    caches = EditionCaches.from_settings(settings)
    assert [(c.name, c.maxsize) for c in caches] == [("search", 7), ("code_page", 8), ("code_rules", 2048)]
    assert caches.code_rules.ttl == 9.0 and caches.code_pages.ttl == 600.0
    for cache in caches:
        cache.put("k", 1)
    caches.clear({"schema": "codes.edition_loaded/1"})
    assert [len(cache) for cache in caches] == [0, 0, 0]
