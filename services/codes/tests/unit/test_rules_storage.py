"""RulesStore on SQLite and PostgreSQL: migration, counts, no-op reloads, atomic replacement."""
from __future__ import annotations

import gzip
import time
from itertools import islice

import pytest
import sqlalchemy as sa

from codes.rules import readers
from codes.rules.engine import CodingRules
from codes.rules.loading import load_rules
from codes.rules.readers import MalformedRelease
from codes.rules.storage import RulesStore, metadata, rule_ptp_edits
from codes.storage import CodeStore
from medcode_common.db import make_engine
from medcode_common.settings import load_settings

PRACTITIONER = "ncci_ptp/medicare_ptp_practitioner_v302r0_2024q3_noeffdate.csv.gz"
SLICE = 30_000


@pytest.fixture
def store(database_url):
    engine = make_engine(database_url)
    CodeStore(engine).migrate()          # 0001_code_sets + 0002_coding_rules
    yield RulesStore(engine)
    engine.dispose()


def _count(store, table, **where) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with store.engine.connect() as conn:
        return conn.execute(query).scalar_one()


def test_migration_matches_the_store_tables(store):
    inspector = sa.inspect(store.engine)
    for table in metadata.sorted_tables:
        columns = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert list(columns) == [c.name for c in table.columns], table.name
        for column in table.columns:
            assert columns[column.name]["nullable"] == column.nullable, (table.name, column.name)
        indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes(table.name)}
        assert indexes == {i.name: [c.name for c in i.columns] for i in table.indexes}, table.name


def test_slice_loads_with_exact_counts_and_same_fingerprint_is_a_no_op(store, data_mirror):
    rows = lambda: islice(readers.read_ptp(data_mirror / PRACTITIONER), SLICE)  # noqa: E731
    first = store.load(kind="PTP", setting="practitioner", name="v30.2 slice", source="slice",
                       fingerprint="f1", rows=rows())
    assert first.loaded and first.edition.counts["rule_ptp_edits"] == SLICE
    assert _count(store, rule_ptp_edits) == SLICE
    again = store.load(kind="PTP", setting="practitioner", name="v30.2 slice", source="slice",
                       fingerprint="f1", rows=rows())
    assert not again.loaded and again.edition.id == first.edition.id
    assert _count(store, rule_ptp_edits) == SLICE


def test_new_edition_replaces_the_old_one_and_a_failed_load_leaves_it_current(store, data_mirror):
    path = data_mirror / PRACTITIONER
    old = store.load(kind="PTP", setting="practitioner", name="old", source="a", fingerprint="a",
                     rows=islice(readers.read_ptp(path), 1000))
    new = store.load(kind="PTP", setting="practitioner", name="new", source="b", fingerprint="b",
                     rows=islice(readers.read_ptp(path), 1000, 1500))
    assert store.current_edition("PTP", "practitioner").id == new.edition.id != old.edition.id
    assert _count(store, rule_ptp_edits) == 500
    assert _count(store, rule_ptp_edits, edition_id=old.edition.id) == 0

    def broken():
        yield from islice(readers.read_ptp(path), 700)
        raise MalformedRelease(path, 702, "simulated bad row")

    with pytest.raises(MalformedRelease, match="simulated"):
        store.load(kind="PTP", setting="practitioner", name="bad", source="c", fingerprint="c", rows=broken())
    assert store.current_edition("PTP", "practitioner").id == new.edition.id
    assert _count(store, rule_ptp_edits) == 500
    # other settings are separate editions
    store.load(kind="PTP", setting="outpatient_hospital", name="op", source="d", fingerprint="d",
               rows=islice(readers.read_ptp(data_mirror / PRACTITIONER), 10))
    assert {e.setting for e in store.current_editions()} == {"practitioner", "outpatient_hospital"}


def test_small_rule_files_load_with_counts_equal_to_their_rows(store, data_mirror, tmp_path):
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
        "20610\tFAKE DESCRIPTOR FOR TESTS: joint thing\n59\tFAKE DESCRIPTOR FOR TESTS: distinct\n")
    settings = load_settings(DATA_MIRROR=str(mirror))
    lines: list[str] = []
    loads = {(load.kind, load.setting): load for load in load_rules(settings, show_progress=False, store=store, say=lines.append)}
    assert loads[("PTP", "practitioner")].counts["rule_ptp_edits"] == 2000
    assert loads[("MUE", "practitioner")].counts["rule_mue"] == 15_095
    assert loads[("MUE", "outpatient_hospital")].counts["rule_mue"] == 15_045
    assert loads[("MUE", "dme")].counts["rule_mue"] == 3_083
    assert loads[("GEM", None)].counts["rule_crosswalks"] == 81_593 + 24_860
    assert loads[("MODIFIERS", None)].counts["rule_modifiers"] == 383
    assert loads[("HCPCS", None)].counts["rule_codes"] == 8_463
    assert loads[("CPT", None)].counts == {"rule_codes": 1, "rule_modifiers": 1}
    assert loads[("RVU", None)].status == "skipped"
    assert all(load.status == "unchanged" for load in load_rules(settings, show_progress=False, store=store,
                                                           say=lines.append) if load.status != "skipped")

    rules = CodingRules(store)
    from medcode_contracts.coding_rules import GetCodeRulesRequest
    cpt, icd = rules.get_code_rules(GetCodeRulesRequest.model_validate(
        {"refs": [{"system": "CPT", "code": "20610"}, {"system": "ICD10CM", "code": "i219"}]}))
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
    store = RulesStore(engine)
    started = time.monotonic()
    result = store.load(kind="PTP", setting="practitioner", name="v30.2", source=PRACTITIONER,
                        fingerprint="full", rows=readers.read_ptp(data_mirror / PRACTITIONER))
    print(f"full PTP practitioner load: {time.monotonic() - started:.1f}s")
    assert result.edition.counts["rule_ptp_edits"] == 2_546_017
    assert _count(store, rule_ptp_edits) == 2_546_017
    with engine.connect() as conn:
        active = conn.execute(sa.select(sa.func.count()).select_from(rule_ptp_edits)
                              .where(rule_ptp_edits.c.deleted_on.is_(None))).scalar_one()
    assert active == 1_669_820   # SOURCES.md
    check = CodingRules(store).check_claim(
        {"date_of_service": "2024-08-01", "lines": [{"code": "20610"}, {"code": "99213"}]})
    assert [f.codes for f in check.findings if f.kind.value == "PTP"] == [["20610", "99213"]]
