"""The in-process code-page cache: serves repeats, follows edition changes."""

from codes.page_cache import PageCache


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Loader:
    def __init__(self):
        self.asked: list[list] = []

    def __call__(self, keys):
        self.asked.append(list(keys))
        return [None if code == "X99" else {"code": code} for _, code in keys]


def test_repeats_and_unknown_codes_are_served_without_loading():
    cache, load = PageCache(refresh_seconds=2, clock=Clock()), Loader()
    keys = [("ICD10CM", "K220"), ("ICD10CM", "X99"), ("ICD10CM", "K220")]
    assert cache.get_many(keys, load, lambda: "ed1") == [{"code": "K220"}, None, {"code": "K220"}]
    assert load.asked == [[("ICD10CM", "K220"), ("ICD10CM", "X99")]]  # each missing key once
    assert cache.get_many(keys[:2], load, lambda: "ed1") == [{"code": "K220"}, None]
    assert len(load.asked) == 1


def test_a_new_edition_empties_the_cache_within_the_refresh_time():
    clock = Clock()
    cache, load = PageCache(refresh_seconds=2, clock=clock), Loader()
    editions = ["ed1"]
    key = [("HCPCS", "J9035")]
    cache.get_many(key, load, lambda: editions[0])
    editions[0] = "ed2"
    clock.now = 1.0
    cache.get_many(key, load, lambda: editions[0])
    assert len(load.asked) == 1  # not checked again yet
    clock.now = 2.5
    cache.get_many(key, load, lambda: editions[0])
    assert len(load.asked) == 2  # new edition seen: loaded again


def test_least_recently_used_pages_leave_first():
    cache, load = PageCache(maxsize=2, clock=Clock()), Loader()
    for code in ("A", "B", "A", "C"):
        cache.get_many([("X", code)], load, lambda: 1)
    assert len(cache) == 2
    cache.get_many([("X", "A")], load, lambda: 1)
    assert [k for batch in load.asked for k in batch] == [("X", "A"), ("X", "B"), ("X", "C")]


def test_concurrent_workers_for_more_codes_than_the_cache_holds_get_their_pages():
    """Workers share the cache and run while one waits for the database: keys it found
    or loaded can be evicted, or the cache cleared by a new edition, before it answers."""
    import random

    import eventlet

    cache = PageCache(maxsize=8, refresh_seconds=0.0)
    editions = ["e1"]

    def load(keys):
        eventlet.sleep(0.001 * random.random())  # the database round trip: other workers run
        return [{"code": code, "edition": editions[0]} for _system, code in keys]

    def generation():
        eventlet.sleep(0)
        return editions[0]

    def worker(n):
        rng = random.Random(n)
        for _ in range(20):
            keys = [("ICD10CM", f"A{rng.randrange(40):02d}") for _ in range(rng.randrange(1, 12))]
            pages = cache.get_many(keys, load, generation)
            assert [page["code"] for page in pages] == [code for _system, code in keys]
            if rng.random() < 0.1:
                editions[0] = f"e{rng.randrange(3)}"  # a new edition: the cache is cleared meanwhile

    pool = eventlet.GreenPool(50)
    threads = [pool.spawn(worker, n) for n in range(50)]
    for thread in threads:
        thread.wait()  # re-raises a worker's KeyError
    assert len(cache) <= 8


def test_pages_are_packed_against_a_dictionary_of_the_first_ones_and_read_back_whole():
    from codes import page_cache

    def page(n: int) -> dict:
        return {
            "system": "ICD10CM",
            "code": f"K{n:03d}",
            "title": f"Disease number {n} of the oesophagus",
            "notes": {"includes": [f"note {n}", "a common note"]},
            "children": [],
            "billable": n % 2 == 0,
        }

    cache = PageCache(maxsize=100, clock=Clock())
    keys = [("ICD10CM", f"K{n:03d}") for n in range(60)]
    load = Loader()
    cache.get_many(keys, lambda missing: [page(int(code[1:])) for _, code in missing], lambda: 1)
    packed = cache._pages
    before = [packed[key] for key in keys[: page_cache.TRAINING_PAGES]]
    after = [packed[key] for key in keys[page_cache.TRAINING_PAGES :]]
    assert {entry[:1] for entry in before} == {page_cache._PLAIN}
    assert {entry[:1] for entry in after} == {page_cache._PRESET}
    # Against the dictionary a page takes less than deflated alone.
    assert max(map(len, after)) < min(map(len, before))
    assert cache.get_many(keys, load, lambda: 1) == [page(n) for n in range(60)]
    assert load.asked == []  # all of them read back from the cache


def test_the_cache_never_holds_more_pages_than_its_bound():
    cache, load = PageCache(maxsize=5, clock=Clock()), Loader()
    for batch in range(4):
        cache.get_many([("X", f"C{batch}{n}") for n in range(7)], load, lambda: 1)
        assert len(cache) <= 5
    assert len(cache) == 5
