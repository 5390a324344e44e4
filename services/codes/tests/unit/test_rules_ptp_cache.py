"""The PTP edits CodingRules keeps in memory by column 1 code (engine._Snapshot.column1):
the same edits as the rules_store's indexed query on every date and in both directions, bounded
in rows, and never an old edition's."""

from __future__ import annotations

import random
from datetime import date, timedelta

from codes.rules import engine, ncci_ptp
from codes.rules.claim_check import edits_from_rows
from codes.rules.engine import CodingRules
from codes.rules.rows import PtpRow
from codes.rules.storage import RulesStore

PRIORPATH = "ncci_ptp/priorpath_ptp_subset_100codes_v322r0_v323r0.csv.gz"


def claim(codes, day: date, modifiers=("59",)) -> dict:
    lines = [{"code": c, "modifiers": list(modifiers) if i % 2 else []} for i, c in enumerate(codes)]
    return {"date_of_service": day.isoformat(), "setting": "practitioner", "lines": lines}


def warm_all(rules: CodingRules) -> None:
    while rules.warm_ptp():
        pass


def no_query(*args, **kwargs):
    raise AssertionError("the rules_store was asked for edits kept in memory")


def verdicts(check) -> list:
    return [(f.kind, f.codes, f.lines, f.modifier_allowed, f.message) for f in check.findings]


def test_kept_edits_are_the_query_s_on_every_date_and_in_both_directions(
    rules_store, data_mirror, load_ptp, synthetic_ptp
):
    rows = list(ncci_ptp.read_ptp_priorpath(data_mirror / PRIORPATH, ref_version="NCCI-2026Q3")) + synthetic_ptp
    edition = load_ptp("subset + synthetic", rows).edition.id
    by_code: dict[str, set[str]] = {}
    for r in rows:
        by_code.setdefault(r.column1, set()).add(r.column2)
        by_code.setdefault(r.column2, set()).add(r.column1)
    rng = random.Random(11)
    # Claims of codes that edit each other: a code, some of its partners, one other code.
    groups = [["11042", "97597", "20610", "96372", "99213", "36415"]]
    for code in rng.sample(sorted(by_code), 40):
        partners = sorted(by_code[code])
        groups.append([code, *rng.sample(partners, min(4, len(partners))), rng.choice(sorted(by_code))])
    bounds = sorted({d + timedelta(days=k) for r in rows for d in (r.effective, r.deleted) if d for k in (-1, 0, 1)})
    days = [
        date(2020, 1, 1),
        *rng.sample(bounds, 25),
        *(d for r in synthetic_ptp for d in (r.effective, r.deleted) if d),
    ]

    queried = CodingRules(rules_store)  # never warmed: every claim is one indexed query
    kept = CodingRules(RulesStore(rules_store.engine))
    for codes in groups:  # each code named once, so warm_ptp loads it
        kept.check_claim(claim(codes, days[0]))
    warm_all(kept)
    snap = kept.snapshot()
    assert len(snap.column1) == len({c for codes in groups for c in codes})
    kept.store.ptp_for_pairs = no_query  # type: ignore[method-assign]

    compared = with_ptp = 0
    for codes in groups:
        for day in rng.sample(days, 6) + days[-9:]:
            expected = sorted(
                edits_from_rows(rules_store.ptp_for_pairs(edition, "practitioner", codes, on=day)), key=repr
            )
            assert sorted(kept._edits_in_force(snap, edition, "practitioner", codes, day), key=repr) == expected
            reordered = codes[1:] + codes[:1]  # a new combination to the per-claim cache
            got = kept.check_claim(claim(reordered, day))
            assert verdicts(got) == verdicts(queried.check_claim(claim(reordered, day))), (codes, day)
            compared += 1
            with_ptp += any(f.kind.value.startswith("PTP") for f in got.findings)
    assert compared >= 500 and with_ptp >= 200


def test_a_claim_of_kept_and_new_codes_queries_only_the_new_ones_as_column_1(rules_store, load_ptp, synthetic_ptp):
    edition = load_ptp("synthetic", synthetic_ptp).edition.id
    rules = CodingRules(rules_store)
    queried = CodingRules(RulesStore(rules_store.engine))
    rules.check_claim(claim(["11042", "97597"], date(2024, 5, 1)))
    assert list(rules.snapshot().pending) == [(edition, "practitioner", "11042"), (edition, "practitioner", "97597")]
    assert rules.warm_ptp() == 2 and not rules.snapshot().pending
    asked = []
    ask = rules.store.ptp_for_pairs

    def spy(*args, **kwargs):
        asked.append(kwargs.get("column1"))
        return ask(*args, **kwargs)

    rules.store.ptp_for_pairs = spy  # type: ignore[method-assign]
    for day in (date(2023, 12, 31), date(2024, 5, 1), date(2024, 10, 1)):
        mixed = claim(["20610", "11042", "99213", "97597", "36415"], day)
        assert verdicts(rules.check_claim(mixed)) == verdicts(queried.check_claim(mixed))
    assert asked == [["20610", "99213", "36415"]] * 3


def test_the_kept_rows_are_bounded_and_the_least_recently_used_code_goes(rules_store, monkeypatch, load_ptp):
    def edits(code: str, n: int) -> list[PtpRow]:
        return [PtpRow(code, f"{n:02d}{k:03d}", None, None, 1, "why") for k in range(n)]

    # 11042 and 97597: 20 rows each as column 1, 20610: 45, more than the LRU holds.
    rows = edits("11042", 20) + edits("97597", 20) + edits("20610", 45) + [PtpRow("20610", "11042", None, None, 0, "x")]
    edition = load_ptp("many", rows).edition.id
    rules = CodingRules(rules_store, ptp_rows_kept=44)
    lru = rules.snapshot().column1
    day = date(2024, 8, 1)

    rules.check_claim(claim(["11042", "20010"], day))  # 20010: a code without edits as column 1
    rules.warm_ptp()
    assert lru.currsize == 22  # 20 rows and two entries
    rules.check_claim(claim(["97597", "20010"], day))
    rules.warm_ptp()
    assert lru.currsize == 43 and len(lru) == 3
    rules.check_claim(claim(["11042", "20011", "99999"], day))  # 11042 used again (kept)
    rules.check_claim(claim(["20001", "20002"], day))
    rules.warm_ptp()
    # 20010, then 97597 (the least recently used) made room for the three new codes.
    assert set(lru) == {(edition, "practitioner", c) for c in ("11042", "20011", "20001", "20002")}
    assert lru.currsize == 24
    assert not rules.snapshot().pending  # no file names 99999: never queued

    # A code with more rows than the LRU holds is never kept, and is still answered.
    found = rules.check_claim(claim(["20610", "11042"], day))
    rules.warm_ptp()
    assert (edition, "practitioner", "20610") not in lru and lru.currsize <= 44
    again = rules.check_claim(claim(["11042", "20610"], day))
    assert [f.codes for f in found.findings] == [f.codes for f in again.findings] == [["20610", "11042"]]

    rules.warm_ptp()
    monkeypatch.setattr(engine, "PTP_CODES_PENDING", 2)
    rules.check_claim(claim(["20003", "20004", "20005", "20006"], day))
    assert len(rules.snapshot().pending) == 2


def test_a_new_edition_is_never_answered_with_the_edits_kept_of_the_old_one(rules_store, load_ptp):
    old = load_ptp("a", [PtpRow("11042", "97597", None, None, 0, "old edit")]).edition.id
    rules = CodingRules(rules_store, refresh_seconds=0)
    payload = claim(["11042", "97597"], date(2024, 8, 1))
    rules.check_claim(payload)
    rules.warm_ptp()
    assert (old, "practitioner", "11042") in rules.snapshot().column1
    assert [f.codes for f in rules.check_claim(claim(["97597", "11042"], date(2024, 8, 1))).findings] == [
        ["11042", "97597"]
    ]

    new = load_ptp("b", [PtpRow("97597", "11042", None, None, 0, "new edit")]).edition.id
    assert new != old
    snap = rules.snapshot()
    assert not snap.column1 and not snap.pending and not snap.pairs
    assert [f.codes for f in rules.check_claim(payload).findings] == [["97597", "11042"]]
    rules.warm_ptp()
    assert set(snap.column1) == {(new, "practitioner", "11042"), (new, "practitioner", "97597")}
    assert [f.codes for f in rules.check_claim(claim(["97597", "11042"], date(2024, 8, 1))).findings] == [
        ["97597", "11042"]
    ]


def test_the_store_reads_a_code_s_edits_as_column_1_with_every_date(rules_store, load_ptp, synthetic_ptp):
    edition = load_ptp("synthetic", synthetic_ptp).edition.id
    rows = rules_store.ptp_of_column1(edition, "practitioner", ["20610", "11042"])
    assert rows == sorted(
        (
            (r.column1, r.column2, r.effective, r.deleted, r.modifier_indicator, r.rationale)
            for r in synthetic_ptp
            if r.column1 in ("20610", "11042")
        ),
        key=lambda r: r[:2],
    )
    assert rules_store.ptp_of_column1(edition, "practitioner", []) == []
    codes = ["11042", "97597", "99213", "20610"]
    both = rules_store.ptp_for_pairs(edition, "practitioner", codes, column1=["97597", "99213"])
    assert sorted(both, key=repr) == sorted(
        (
            (r.column1, r.column2, r.effective, r.deleted, r.modifier_indicator, r.rationale)
            for r in synthetic_ptp
            if r.column1 in ("97597", "99213") and r.column2 in codes
        ),
        key=repr,
    )
    assert rules_store.ptp_for_pairs(edition, "practitioner", codes, column1=[]) == []


def test_the_claims_lookups_kept_are_bounded_and_counted(rules_store, load_ptp, synthetic_ptp):
    load_ptp("synthetic", synthetic_ptp)
    rules = CodingRules(rules_store, ptp_rows_kept=3, claim_lookups_kept=2)
    days = [date(2024, 5, 1) + timedelta(days=n) for n in range(5)]
    for day in days:
        rules.check_claim(claim(["11042", "97597", "20610"], day))
    assert len(rules.snapshot().pairs) == 2  # one lookup per date of service, the last two kept
    warm_all(rules)
    usage = rules.cache_usage()
    assert usage["claim_lookups"] == {"entries": 2, "bound": 2}
    assert usage["ptp_rows"]["bound"] == 3 and usage["ptp_rows"]["entries"] <= 3
    assert usage["ptp_codes_pending"]["entries"] == 0


def test_the_service_s_bounds_are_its_settings(monkeypatch, rules_store):
    from codes.rules.provider import CodingRulesProvider

    monkeypatch.setenv("CODES_PTP_ROWS_KEPT", "123")
    monkeypatch.setenv("CODES_CLAIM_LOOKUPS_KEPT", "7")
    rules = CodingRulesProvider().build(rules_store.engine)
    assert (rules.snapshot().column1.maxsize, rules.snapshot().pairs.maxsize) == (123, 7)
