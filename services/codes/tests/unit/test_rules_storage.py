"""RulesStore on SQLite and PostgreSQL: migration, counts, no-op reloads, atomic replacement."""

from __future__ import annotations

import gc
import gzip
import time
from itertools import islice

import pytest
import sqlalchemy as sa

from codes.release_files import MalformedRelease
from codes.rules import ncci_ptp
from codes.rules.engine import CodingRules
from codes.rules.rule_files import load_rules
from codes.rules.storage import RulesStore, metadata, rule_codes, rule_ptp_edits
from codes.storage import CodeStore
from medcode_common.db import make_engine
from medcode_common.settings import load_settings

PRACTITIONER = "ncci_ptp/medicare_ptp_practitioner_v302r0_2024q3_noeffdate.csv.gz"
SLICE = 30_000


def _count(rules_store, table, **where) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with rules_store.engine.connect() as conn:
        return conn.execute(query).scalar_one()


def test_migration_matches_the_store_tables(rules_store):
    inspector = sa.inspect(rules_store.engine)
    for table in metadata.sorted_tables:
        columns = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert list(columns) == [c.name for c in table.columns], table.name
        for column in table.columns:
            assert columns[column.name]["nullable"] == column.nullable, (table.name, column.name)
        indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes(table.name)}
        assert indexes == {i.name: [c.name for c in i.columns] for i in table.indexes}, table.name


def test_slice_loads_with_exact_counts_and_same_fingerprint_is_a_no_op(rules_store, data_mirror, load_ptp):
    rows = lambda: islice(ncci_ptp.read_ptp(data_mirror / PRACTITIONER), SLICE)  # noqa: E731
    first = load_ptp("v30.2 slice", rows())
    assert first.loaded and first.edition.counts["rule_ptp_edits"] == SLICE
    assert _count(rules_store, rule_ptp_edits) == SLICE
    again = load_ptp("v30.2 slice", rows())
    assert not again.loaded and again.edition.id == first.edition.id
    assert _count(rules_store, rule_ptp_edits) == SLICE


def test_new_edition_replaces_the_old_one_and_a_failed_load_leaves_it_current(rules_store, data_mirror, load_ptp):
    path = data_mirror / PRACTITIONER
    old = load_ptp("old", islice(ncci_ptp.read_ptp(path), 1000))
    new = load_ptp("new", islice(ncci_ptp.read_ptp(path), 1000, 1500))
    assert rules_store.current_edition("PTP", "practitioner").id == new.edition.id != old.edition.id
    assert _count(rules_store, rule_ptp_edits) == 500
    assert _count(rules_store, rule_ptp_edits, edition_id=old.edition.id) == 0

    def broken():
        yield from islice(ncci_ptp.read_ptp(path), 700)
        raise MalformedRelease(path, 702, "simulated bad row")

    with pytest.raises(MalformedRelease, match="simulated"):
        load_ptp("bad", broken())
    assert rules_store.current_edition("PTP", "practitioner").id == new.edition.id
    assert _count(rules_store, rule_ptp_edits) == 500
    # other settings are separate editions
    load_ptp("op", islice(ncci_ptp.read_ptp(data_mirror / PRACTITIONER), 10), setting="outpatient_hospital")
    assert {e.setting for e in rules_store.current_editions()} == {"practitioner", "outpatient_hospital"}


def test_small_rule_files_load_with_counts_equal_to_their_rows(rules_store, data_mirror, tmp_path):
    """load_rules on a mirror holding everything but the big PTP tables (those are tested
    above in slices and below in full)."""
    mirror = tmp_path / "mirror"
    for folder in ("ncci_mue", "icd10cm_gems", "icd10cm_index", "hcpcs"):
        (mirror / folder).mkdir(parents=True)
        for source in (data_mirror / folder).iterdir():
            (mirror / folder / source.name).symlink_to(source)
    (mirror / "ncci_ptp").mkdir()
    # A PTP "release" built from a slice keeps the loader's file discovery honest.
    slice_path = mirror / "ncci_ptp" / "medicare_ptp_practitioner_v302r0_2024q3_noeffdate.csv.gz"
    with gzip.open(data_mirror / PRACTITIONER, "rt") as src, gzip.open(slice_path, "wt") as dst:
        dst.writelines(islice(src, 2001))
    (mirror / "cpt").mkdir()
    (mirror / "cpt" / "cpt_fake.txt").write_text(
        "20610\tFAKE DESCRIPTOR FOR TESTS: joint thing\n59\tFAKE DESCRIPTOR FOR TESTS: distinct\n"
    )
    settings = load_settings(DATA_MIRROR=str(mirror))
    lines: list[str] = []
    loads = {
        (load.kind, load.setting): load
        for load in load_rules(settings, show_progress=False, store=rules_store, say=lines.append)
    }
    assert loads[("PTP", "practitioner")].counts["rule_ptp_edits"] == 2000
    assert loads[("MUE", "practitioner")].counts["rule_mue"] == 15_095
    assert loads[("MUE", "outpatient_hospital")].counts["rule_mue"] == 15_045
    assert loads[("MUE", "dme")].counts["rule_mue"] == 3_083
    assert loads[("GEM", None)].counts["rule_crosswalks"] == 81_593 + 24_860
    assert loads[("MODIFIERS", None)].counts["rule_modifiers"] == 383
    assert loads[("HCPCS", None)].counts["rule_codes"] == 8_463
    assert loads[("CPT", None)].counts == {"rule_codes": 1, "rule_modifiers": 1}
    assert loads[("RVU", None)].status == "skipped"
    assert all(
        load.status == "unchanged"
        for load in load_rules(settings, show_progress=False, store=rules_store, say=lines.append)
        if load.status != "skipped"
    )

    rules = CodingRules(rules_store)
    from medcode_contracts.coding_rules import GetCodeRulesRequest

    cpt, icd = rules.get_code_rules(
        GetCodeRulesRequest.model_validate(
            {"refs": [{"system": "CPT", "code": "20610"}, {"system": "ICD10CM", "code": "i219"}]}
        )
    )
    assert cpt.descriptor.startswith("FAKE DESCRIPTOR FOR TESTS") and cpt.descriptor_note is None
    assert {m.setting.value for m in cpt.mue} == {"practitioner", "outpatient_hospital"}
    assert icd.code == "I21.9" and "heart attack" in icd.lay_terms
    assert any(c.target.code == "410.90" and c.approximate for c in icd.crosswalks)
    assert rules.get_modifier("59").title.startswith("FAKE DESCRIPTOR FOR TESTS")
    assert rules.get_modifier("xs").ncci_associated


@pytest.mark.slow
def test_full_practitioner_table_loads_on_sqlite(tmp_path, data_mirror):
    """The whole 2.5 M-row release, once (SQLite; about 40 s here)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'full.sqlite3'}")
    CodeStore(engine).migrate()
    rules_store = RulesStore(engine)
    started = time.monotonic()
    result = rules_store.load(
        kind="PTP",
        setting="practitioner",
        name="v30.2",
        source=PRACTITIONER,
        fingerprint="full",
        rows=ncci_ptp.read_ptp(data_mirror / PRACTITIONER),
    )
    print(f"full PTP practitioner load: {time.monotonic() - started:.1f}s")
    assert result.edition.counts["rule_ptp_edits"] == 2_546_017
    assert _count(rules_store, rule_ptp_edits) == 2_546_017
    with engine.connect() as conn:
        active = conn.execute(
            sa.select(sa.func.count()).select_from(rule_ptp_edits).where(rule_ptp_edits.c.deleted_on.is_(None))
        ).scalar_one()
    assert active == 1_669_820  # SOURCES.md
    check = CodingRules(rules_store).check_claim(
        {"date_of_service": "2024-08-01", "lines": [{"code": "20610"}, {"code": "99213"}]}
    )
    assert [f.codes for f in check.findings if f.kind.value == "PTP"] == [["20610", "99213"]]


def _index_names(rules_store) -> set[str]:
    inspector = sa.inspect(rules_store.engine)
    return {ix["name"] for ix in inspector.get_indexes(rule_ptp_edits.name)}


def test_bulk_load_builds_the_indexes_after_the_rows_of_an_empty_table(rules_store, data_mirror):
    """Empty tables lose their indexes for the block and get them back at its end; the codes
    the PTP table names are derived with the last day each was in force."""
    expected = {ix.name for ix in rule_ptp_edits.indexes}
    assert _index_names(rules_store) == expected
    rows = list(islice(ncci_ptp.read_ptp(data_mirror / PRACTITIONER), SLICE))
    with rules_store.bulk_load():
        assert _index_names(rules_store) == set()
        rules_store.load(
            kind="PTP",
            setting="practitioner",
            name="v30.2 slice",
            source=PRACTITIONER,
            fingerprint="bulk",
            rows=iter(rows),
        )
    assert _index_names(rules_store) == expected
    assert _count(rules_store, rule_ptp_edits) == SLICE
    last_day: dict = {}
    for row in rows:
        for code in (row.column1, row.column2):
            if row.deleted is None or last_day.get(code, row.deleted) is None:
                last_day[code] = None
            else:
                last_day[code] = max(row.deleted, last_day.get(code, row.deleted))
    with rules_store.engine.connect() as conn:
        stored = {r.code: r.last_day for r in conn.execute(sa.select(rule_codes.c.code, rule_codes.c.last_day))}
    assert stored == last_day


def test_bulk_load_keeps_the_indexes_of_a_table_being_read_and_rebuilds_them_after_a_failure(
    rules_store, data_mirror, load_ptp
):
    rows = list(islice(ncci_ptp.read_ptp(data_mirror / PRACTITIONER), 1000))
    load_ptp("a", rows)
    with rules_store.bulk_load():
        assert _index_names(rules_store) == {ix.name for ix in rule_ptp_edits.indexes}  # its readers need them

    def broken():
        yield from rows[:10]
        raise MalformedRelease("broken.csv", 12, "simulated bad row")

    with rules_store.engine.begin() as conn:
        conn.execute(rule_ptp_edits.delete())
        conn.execute(rule_codes.delete())
    with pytest.raises(MalformedRelease), rules_store.bulk_load():
        load_ptp("b", broken(), setting="outpatient_hospital")
    assert _index_names(rules_store) == {ix.name for ix in rule_ptp_edits.indexes}
    assert _count(rules_store, rule_ptp_edits, setting="outpatient_hospital") == 0


def test_claim_check_fetches_the_edits_in_force_and_answers_as_with_every_edit(rules_store, load_ptp, synthetic_ptp):
    """The rules_store applies the dates and indicator 9 in its query; the verdicts are those of the
    pure check over every edit of the pairs, on each side of every boundary."""
    from datetime import date, timedelta

    from codes.rules.claim_check import RuleFacts, check_claim, edits_from_rows, parse_claim

    rows = synthetic_ptp
    load_ptp("synthetic", rows)
    rules = CodingRules(rules_store)
    edition = rules_store.current_edition("PTP", "practitioner")
    boundaries = {d for r in rows for d in (r.effective, r.deleted) if d} | {date(2020, 1, 1)}
    days = sorted({d + timedelta(days=k) for d in boundaries for k in (-1, 0, 1)})
    lines = [
        {"code": "11042"},
        {"code": "97597", "modifiers": ["59"]},
        {"code": "20610"},
        {"code": "96372"},
        {"code": "99213", "modifiers": ["25"]},
        {"code": "36415"},
    ]
    codes = ["11042", "97597", "20610", "96372", "99213", "36415"]
    every_edit = edits_from_rows(rules_store.ptp_for_pairs(edition.id, "practitioner", codes))
    assert len(every_edit) == len(rows)
    for day in days:
        payload = {"date_of_service": day.isoformat(), "setting": "practitioner", "lines": lines}
        got = rules.check_claim(payload)
        facts = RuleFacts(edits=every_edit, ptp_source=edition.label, codes=rules.snapshot().codes)
        expected = check_claim(parse_claim(payload), facts)
        assert [(f.kind, f.codes, f.lines, f.modifier_allowed) for f in got.findings] == [
            (f.kind, f.codes, f.lines, f.modifier_allowed) for f in expected.findings
        ], day
        assert got.findings == expected.findings, day
    q2 = rules.check_claim({"date_of_service": "2024-05-15", "lines": lines})
    ptp = [(f.kind.value, f.codes) for f in q2.findings if f.kind.value.startswith("PTP")]
    # The stricter indicator 0 row wins in its quarter, so the 59 modifier does not bypass it.
    assert ("PTP", ["11042", "97597"]) in ptp and ("PTP_MODIFIER", ["20610", "99213"]) in ptp
    assert not any(codes == ["20610", "96372"] or codes == ["20610", "36415"] for _, codes in ptp)
    q4 = rules.check_claim({"date_of_service": "2024-10-01", "lines": lines})
    ptp = [(f.kind.value, f.codes) for f in q4.findings if f.kind.value.startswith("PTP")]
    assert ("PTP_MODIFIER", ["11042", "97597"]) in ptp and ("PTP", ["20610", "36415"]) in ptp


def test_ptp_dates_are_stored_with_and_without_effective_dates_and_the_collector_is_given_back(rules_store):
    """A batch without effective dates writes that column as a NULL literal on SQLite, one
    with them binds each; the garbage collector is off during the write and on after it."""
    from datetime import date

    from codes.rules.rows import PtpRow

    collecting: list[bool] = []

    def rows(effective):
        for column2 in ("20610", "36415"):
            collecting.append(gc.isenabled())
            yield PtpRow("99213", column2, effective, date(2024, 6, 30) if column2 == "36415" else None, 1, "why")

    def stored(edition_id):
        t = rule_ptp_edits
        with rules_store.engine.connect() as conn:
            return conn.execute(
                sa.select(t.c.column2, t.c.effective_from, t.c.deleted_on)
                .where(t.c.edition_id == edition_id)
                .order_by(t.c.column2)
            ).all()

    without = rules_store.load(
        kind="PTP", setting="practitioner", name="a", source="a", fingerprint="a", rows=rows(None)
    )
    assert [tuple(r) for r in stored(without.edition.id)] == [
        ("20610", None, None),
        ("36415", None, date(2024, 6, 30)),
    ]
    dated = rules_store.load(
        kind="PTP", setting="practitioner", name="b", source="b", fingerprint="b", rows=rows(date(2020, 1, 1))
    )
    assert [tuple(r) for r in stored(dated.edition.id)] == [
        ("20610", date(2020, 1, 1), None),
        ("36415", date(2020, 1, 1), date(2024, 6, 30)),
    ]
    assert collecting == [False] * 4 and gc.isenabled()
