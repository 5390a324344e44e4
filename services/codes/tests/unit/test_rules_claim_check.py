"""check_claim: the pure rules on hand-made facts, then verdicts on real PTP rows.

For the real-file tests the expected verdict is computed here from the raw CSV/TXT rows
(csv module, no reader of the platform), and the checker runs through the store.
"""

from __future__ import annotations

import csv
import gzip
import random
import zlib
from datetime import date, datetime, timedelta
from itertools import combinations

import pytest

from codes.rules import ncci_ptp
from codes.rules.claim_check import CodeFact, EditFact, MueFact, RuleFacts, check_claim, parse_claim
from codes.rules.engine import CodingRules
from codes.rules.storage import RulesStore
from medcode_common.db import make_engine
from medcode_contracts.coding_rules import NCCI_ASSOCIATED_MODIFIERS, FindingKind
from medcode_contracts.errors import BadRequest

DOS = date(2026, 7, 15)


def _claim(*lines, dos=DOS, setting="practitioner"):
    return parse_claim(
        {
            "date_of_service": dos.isoformat(),
            "setting": setting,
            "lines": [dict(code=c, modifiers=m, units=u) for c, m, u in lines],
        }
    )


def _facts(edits=(), mue=None, codes=("11042", "97597", "99213", "20610")):
    return RuleFacts(
        edits=list(edits),
        ptp_source="ptp-file (test edition)",
        mue=mue or {},
        mue_source="mue-file (test edition)",
        codes={c: [CodeFact(None, "codes-file")] for c in codes},
    )


# ---- input validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload,message",
    [
        ({"lines": []}, "at least one line"),
        ({"lines": [{"code": "99213"}] * 51}, "at most 50 lines"),
        ({"lines": [{"code": "99213", "units": 0}]}, "lines.0.units"),
        ({"date_of_service": "2026-13-01", "lines": [{"code": "99213"}]}, "date_of_service"),
        ({"setting": "moon base", "lines": [{"code": "99213"}]}, "unknown setting"),
        ({"lines": [{"code": "99213", "modifiers": ["591"]}]}, "not a two-character modifier"),
        ("not a claim", "expected an object"),
        (
            {"lines": [{"code": "87086"}], "diagnoses": ["urine"]},
            "diagnoses: diagnosis 'urine' is not an ICD-10-CM code",
        ),
        ({"lines": [{"code": "87086"}], "diagnoses": ["N39.0"] * 26}, "diagnoses"),
        ({"lines": [{"code": "87086"}], "patient_age": 130}, "patient_age"),
        ({"lines": [{"code": "87086"}], "patient_sex": "other"}, "unknown sex 'other'"),
    ],
)
def test_bad_claims_are_bad_requests(payload, message):
    with pytest.raises(BadRequest, match=message):
        parse_claim(payload)


def test_diagnoses_and_patient_are_normalised():
    claim = parse_claim(
        {"lines": [{"code": "87086"}], "diagnoses": [" n39.0 ", "Z0000"], "patient_age": 0, "patient_sex": "F"}
    )
    assert claim.diagnoses == ["N39.0", "Z0000"] and claim.patient_age == 0 and claim.patient_sex.value == "female"


def test_setting_aliases():
    assert (
        parse_claim({"setting": "outpatient hospital", "lines": [{"code": "x"}]}).setting.value == "outpatient_hospital"
    )
    assert parse_claim({"setting": "DME", "lines": [{"code": "x"}]}).setting.value == "dme"


# ---- the rules on hand-made facts -------------------------------------------------------------------


def test_indicator_0_is_never_separable_and_checked_both_ways():
    edit = EditFact("11042", "97597", date(2005, 1, 1), None, 0, "Mutually exclusive procedures")
    for order in [(("11042", [], 1), ("97597", ["59"], 1)), (("97597", ["59"], 1), ("11042", [], 1))]:
        result = check_claim(_claim(*order), _facts([edit]))
        assert not result.clean
        [finding] = result.findings
        assert finding.kind == FindingKind.PTP and finding.codes == ["11042", "97597"]
        assert finding.modifier_allowed is False and finding.source == "ptp-file (test edition)"


def test_indicator_1_needs_an_ncci_modifier_on_the_column_2_line():
    edit = EditFact("20610", "99213", None, None, 1)
    plain = check_claim(_claim(("20610", [], 1), ("99213", [], 1)), _facts([edit]))
    assert not plain.clean and plain.findings[0].modifier_allowed is True
    on_column2 = check_claim(_claim(("20610", [], 1), ("99213", ["25"], 1)), _facts([edit]))
    assert on_column2.clean and on_column2.findings[0].kind == FindingKind.PTP_MODIFIER
    on_column1 = check_claim(_claim(("20610", ["59"], 1), ("99213", [], 1)), _facts([edit]))
    assert not on_column1.clean
    not_ncci = check_claim(_claim(("20610", [], 1), ("99213", ["GA"], 1)), _facts([edit]))
    assert not not_ncci.clean


def test_indicator_9_is_no_edit_and_strictest_row_wins():
    rows = [
        EditFact("11042", "97597", date(1996, 1, 1), date(1996, 1, 1), 9),
        EditFact("11042", "97597", date(2005, 1, 1), None, 1),
        EditFact("11042", "97597", date(2010, 1, 1), None, 0),
    ]
    assert check_claim(_claim(("11042", [], 1), ("97597", [], 1)), _facts(rows[:1])).clean
    [finding] = check_claim(_claim(("11042", [], 1), ("97597", ["59"], 1)), _facts(rows)).findings
    assert finding.modifier_allowed is False


def test_rows_of_one_indicator_for_a_pair_give_one_finding_whatever_their_order():
    rows = [
        EditFact("11042", "97597", None, None, 1, None),
        EditFact("11042", "97597", date(2010, 1, 1), None, 1, "Misuse of column two code"),
        EditFact("11042", "97597", date(2015, 1, 1), None, 1, "Misuse of column two code"),
        EditFact("11042", "97597", date(2012, 1, 1), None, 1, "CPT Manual or CMS manual coding instruction"),
    ]
    claim = _claim(("11042", [], 1), ("97597", [], 1))
    messages = {
        check_claim(claim, _facts(order)).findings[0].message for order in (rows, rows[::-1], rows[1:] + rows[:1])
    }
    [message] = messages
    assert message.endswith("Rationale: CPT Manual or CMS manual coding instruction.")


def test_effective_and_deletion_dates_are_inclusive():
    edit = EditFact("11042", "97597", date(2022, 1, 1), date(2023, 12, 31), 0)

    def verdict(dos):
        return check_claim(_claim(("11042", [], 1), ("97597", [], 1), dos=dos), _facts([edit])).clean

    assert verdict(date(2021, 12, 31)) and verdict(date(2024, 1, 1))
    assert not verdict(date(2022, 1, 1)) and not verdict(date(2023, 12, 31))


def test_mue_per_day_and_per_line():
    mue = {"99213": MueFact(1, "2 Date of Service Edit: Policy"), "20610": MueFact(2, "1 Line Edit")}
    day = check_claim(_claim(("99213", [], 1), ("99213", ["25"], 1)), _facts(mue=mue))
    assert [f.kind for f in day.findings] == [FindingKind.MUE] and day.findings[0].lines == [1, 2]
    lines = check_claim(_claim(("20610", ["RT"], 2), ("20610", ["LT"], 2)), _facts(mue=mue))
    assert lines.clean
    over = check_claim(
        _claim(
            ("20610", [], 3),
        ),
        _facts(mue=mue),
    )
    assert over.findings[0].kind == FindingKind.MUE and "MUE of 2" in over.findings[0].message
    assert over.findings[0].source == "mue-file (test edition)"


def test_unknown_and_deleted_codes_are_findings():
    facts = _facts(codes=("99213",))
    facts.codes = {"99213": [CodeFact(None, "x")], "J1030": [CodeFact(date(2024, 3, 31), "hcpcs (Oct 2025)")]}
    result = check_claim(_claim(("99213", [], 1), ("J1030", [], 1), ("ZZZZZ", [], 1), dos=date(2024, 8, 1)), facts)
    kinds = {f.kind: f for f in result.findings}
    assert (
        kinds[FindingKind.DELETED_CODE].codes == ["J1030"] and "2024-03-31" in kinds[FindingKind.DELETED_CODE].message
    )
    assert kinds[FindingKind.DELETED_CODE].source == "hcpcs (Oct 2025)"
    assert kinds[FindingKind.UNKNOWN_CODE].codes == ["ZZZZZ"]
    assert not result.clean


def test_codes_are_normalised():
    edit = EditFact("20610", "99213", None, None, 0)
    result = check_claim(_claim((" 20610 ", [], 1), ("99213", [], 1)), _facts([edit]))
    assert result.findings[0].codes == ["20610", "99213"]


# ---- real rows: expected verdicts from the raw files ------------------------------------------------


def _day(value: str) -> date | None:
    value = value.strip()
    if not value or value == "*":
        return None
    return date.fromisoformat(value) if "-" in value else datetime.strptime(value, "%Y%m%d").date()


def _expected(raw: dict[tuple[str, str], list[tuple]], a: str, b: str, mods_b: set[str], dos: date) -> set:
    """Independent reading of CMS's rules: (kind, col1, col2, modifier_allowed) per direction."""
    found = set()
    for (c1, c2), mods in (((a, b), mods_b), ((b, a), set())):
        in_force = [
            ind
            for eff, dele, ind in raw.get((c1, c2), [])
            if ind != 9 and (eff is None or eff <= dos) and (dele is None or dos <= dele)
        ]
        if not in_force:
            continue
        if 0 in in_force:
            found.add(("PTP", c1, c2, False))
        elif mods & NCCI_ASSOCIATED_MODIFIERS:
            found.add(("PTP_MODIFIER", c1, c2, True))
        else:
            found.add(("PTP", c1, c2, True))
    return found


def _got(result) -> set:
    return {
        (f.kind.value, f.codes[0], f.codes[1], f.modifier_allowed)
        for f in result.findings
        if f.kind in (FindingKind.PTP, FindingKind.PTP_MODIFIER)
    }


def _raw_priorpath(data_mirror) -> dict:
    raw: dict[tuple[str, str], list] = {}
    with gzip.open(data_mirror / "ncci_ptp/priorpath_ptp_subset_100codes_v322r0_v323r0.csv.gz", "rt") as handle:
        for row in csv.DictReader(handle):
            if row["ref_version"] == "NCCI-2026Q3":
                raw.setdefault((row["col1"], row["col2"]), []).append(
                    (_day(row["effective"]), _day(row["deleted"]), int(row["modifier_indicator"]))
                )
    return raw


def _store_with(tmp_path, rows, name) -> CodingRules:
    store = RulesStore(make_engine(f"sqlite:///{tmp_path / 'rules.sqlite3'}"))
    store.create_schema()
    store.load(kind="PTP", setting="practitioner", name=name, source=name, fingerprint=name, rows=rows)
    return CodingRules(store)


def _dates_around(rng, eff: date | None, dele: date | None) -> list[date]:
    """Dates inside and outside an edit's span (ends included)."""
    start = eff or date(1996, 1, 1)
    end = dele or date(2026, 12, 31)
    inside = start + timedelta(days=rng.randrange((end - start).days + 1))
    days = [inside, end if dele else inside]
    if eff:
        days.append(eff - timedelta(days=1))
    if dele:
        days.append(dele + timedelta(days=1))
    return days


def _modifier_choice(rng) -> list[str]:
    return rng.choice([[], [], ["59"], ["XS"], ["25"], ["GA"], ["RT", "XU"]])


def test_real_pairs_with_effective_dates(data_mirror, tmp_path):
    """PriorPath v32.2 rows (with effective dates) and the raw v32.2 TXT excerpt."""
    raw = _raw_priorpath(data_mirror)
    excerpt = {}
    with open(data_mirror / "ncci_ptp/ccipra-v322r0-f1.excerpt.txt", encoding="cp1252", newline="") as handle:
        for fields in csv.reader(handle, delimiter="\t"):
            if len(fields) == 7 and len(fields[0]) == 5 and fields[3].isdigit():
                excerpt.setdefault((fields[0], fields[1]), []).append(
                    (_day(fields[3]), _day(fields[4]), int(fields[5]))
                )
    # The excerpt's pairs do not overlap the subset's 100 codes: one edition holds both.
    assert not set(excerpt) & set(raw)
    rows = list(
        ncci_ptp.read_ptp_priorpath(
            data_mirror / "ncci_ptp/priorpath_ptp_subset_100codes_v322r0_v323r0.csv.gz", ref_version="NCCI-2026Q3"
        )
    )
    rules = _store_with(
        tmp_path,
        rows + list(ncci_ptp.read_ptp(data_mirror / "ncci_ptp/ccipra-v322r0-f1.excerpt.txt")),
        "v32.2 subset + excerpt",
    )
    raw.update(excerpt)
    rng = random.Random(20260715)
    pairs = rng.sample(sorted(raw), 180) + sorted(excerpt)[:60]
    checked = with_finding = without = 0
    for a, b in pairs:
        for eff, dele, _ in raw[(a, b)]:
            for dos in _dates_around(rng, eff, dele):
                mods = _modifier_choice(rng)
                result = rules.check_claim(_claim((a, [], 1), (b, mods, 1), dos=dos))
                expected = _expected(raw, a, b, set(mods), dos)
                assert _got(result) == expected, (a, b, mods, dos)
                checked += 1
                with_finding += bool(expected)
                without += not expected
    assert checked >= 400 and with_finding >= 100 and without >= 50


def test_real_non_pairs_have_no_ptp_finding(data_mirror, tmp_path):
    raw = _raw_priorpath(data_mirror)
    codes = sorted({c for pair in raw for c in pair})
    non_pairs = [(a, b) for a, b in combinations(codes, 2) if (a, b) not in raw and (b, a) not in raw]
    rng = random.Random(7)
    sample = rng.sample(non_pairs, 200)
    rules = _store_with(
        tmp_path,
        ncci_ptp.read_ptp_priorpath(
            data_mirror / "ncci_ptp/priorpath_ptp_subset_100codes_v322r0_v323r0.csv.gz", ref_version="NCCI-2026Q3"
        ),
        "subset",
    )
    for a, b in sample:
        dos = date(2026, 7, 1) + timedelta(days=rng.randrange(92))
        result = rules.check_claim(_claim((a, [], 1), (b, [], 1), dos=dos))
        assert _got(result) == set(), (a, b)
        # (a subset table cannot tell deleted codes: only PTP findings are judged here)


def test_real_deleted_rows_of_the_full_table(data_mirror, tmp_path):
    """Pairs picked by a seeded hash from the full v30.2 practitioner table, all their rows
    (duplicates included) loaded; DOS before, on and after the deletion date."""

    def picked_pair(a: str, b: str) -> bool:  # the same for both directions of a pair
        return zlib.crc32(f"{min(a, b)}{max(a, b)}seed3".encode()) % 12_000 == 0

    raw: dict[tuple[str, str], list] = {}
    path = data_mirror / "ncci_ptp/medicare_ptp_practitioner_v302r0_2024q3_noeffdate.csv.gz"
    with gzip.open(path, "rt") as handle:
        for row in csv.DictReader(handle):
            if picked_pair(row["column_1"], row["column_2"]):
                raw.setdefault((row["column_1"], row["column_2"]), []).append(
                    (None, _day(row["deletion_date"]), int(row["modifier_indicator"]))
                )
    rows = [r for r in ncci_ptp.read_ptp(path) if picked_pair(r.column1, r.column2)]
    assert len(rows) == sum(len(v) for v in raw.values())
    rules = _store_with(tmp_path, rows, "v30.2 slice")
    rng = random.Random(3)
    picked = sorted(p for p in raw if raw[p])
    deleted = [p for p in picked if any(d is not None and i != 9 for _, d, i in raw[p])]
    assert len(picked) >= 150 and len(deleted) >= 40
    checked = 0
    for a, b in picked:
        for _, dele, _ in raw[(a, b)]:
            days = [dele, dele + timedelta(days=1), dele - timedelta(days=30)] if dele else [date(2024, 8, 1)]
            for dos in days:
                mods = _modifier_choice(rng)
                result = rules.check_claim(_claim((a, [], 1), (b, mods, 1), dos=dos))
                assert _got(result) == _expected(raw, a, b, set(mods), dos), (a, b, mods, dos)
                checked += 1
    assert checked >= 200
