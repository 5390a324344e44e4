"""A first PTP load staged in a second process (rule_files.PtpStaging) and adopted: the same
rows, counts and indexes as a load in one process; a reload skips it; a failed staging
leaves no current edition and no rows, and the next load loads it."""

from __future__ import annotations

import gzip
from itertools import islice

import pytest
import sqlalchemy as sa

from codes.release_files import MalformedRelease
from codes.rules.rule_files import PtpStaging, load_rules
from codes.rules.storage import RulesStore, rule_codes, rule_editions, rule_ptp_edits
from codes.storage import CodeStore
from medcode_common.db import make_engine
from medcode_common.settings import load_settings

SOURCE = "ncci_ptp/medicare_ptp_practitioner_v302r0_2024q3_noeffdate.csv.gz"
TABLES = {
    "practitioner": "medicare_ptp_practitioner_v302r0_2024q3_noeffdate.csv.gz",
    "outpatient_hospital": "medicare_ptp_outpatient_hospital_v302r0_2024q3_noeffdate.csv.gz",
}


@pytest.fixture
def ptp_dir(tmp_path, data_mirror, monkeypatch):
    """Two small PTP tables (the first rows of the practitioner release) as NCCI_PTP_DIR."""
    folder = tmp_path / "ptp"
    folder.mkdir()
    with gzip.open(data_mirror / SOURCE, "rt", encoding="utf-8", newline="") as text:
        lines = list(islice(text, 3001))
    for number, name in enumerate(TABLES.values()):
        with gzip.open(folder / name, "wt", encoding="utf-8", newline="") as out:
            out.writelines(lines[: 1 + 2000 + 1000 * number])
    monkeypatch.setenv("NCCI_PTP_DIR", str(folder))
    return folder


def _store(tmp_path, name: str) -> tuple[RulesStore, object]:
    (tmp_path / name / "mirror").mkdir(parents=True)  # no other rule files: PTP, ICD-9-CM only
    settings = load_settings(DATA_DIR=tmp_path / name, DATA_MIRROR=tmp_path / name / "mirror", DATABASE_URL=None)
    engine = make_engine(settings.database_url("codes"))
    CodeStore(engine).migrate()
    return RulesStore(engine), settings


def _load(store: RulesStore, settings, stage: bool) -> list:
    staged = PtpStaging.start(settings, store, show=False) if stage else None
    try:
        return load_rules(settings, show_progress=False, store=store, say=lambda _line: None, staged=staged)
    finally:
        if staged is not None:
            staged.close()


def _ptp_rows(store: RulesStore) -> list[tuple]:
    t = rule_ptp_edits
    columns = [c for c in t.columns if c.name != "edition_id"]
    with store.engine.connect() as conn:
        return conn.execute(sa.select(*columns).order_by(t.c.setting, t.c.column1, t.c.column2)).all()


def _code_rows(store: RulesStore) -> list[tuple]:
    t = rule_codes
    with store.engine.connect() as conn:
        return conn.execute(
            sa.select(t.c.code, t.c.system, t.c.last_day)
            .join(rule_editions, rule_editions.c.id == t.c.edition_id)
            .where(rule_editions.c.kind == "PTP")
            .order_by(rule_editions.c.setting, t.c.code)
        ).all()


def _ptp_loads(loads) -> dict[str, tuple]:
    return {load.setting: (load.status, load.counts) for load in loads if load.kind == "PTP"}


def test_a_staged_first_load_equals_a_load_in_one_process_and_a_reload_skips_it(tmp_path, ptp_dir):
    plain, plain_settings = _store(tmp_path, "plain")
    staged, staged_settings = _store(tmp_path, "staged")
    expected = _ptp_loads(_load(plain, plain_settings, stage=False))
    assert expected == {
        "practitioner": ("loaded", {"rule_ptp_edits": 2000, "rule_codes": expected["practitioner"][1]["rule_codes"]}),
        "outpatient_hospital": (
            "loaded",
            {"rule_ptp_edits": 3000, "rule_codes": expected["outpatient_hospital"][1]["rule_codes"]},
        ),
    }
    assert _ptp_loads(_load(staged, staged_settings, stage=True)) == expected
    assert _ptp_rows(staged) == _ptp_rows(plain) and len(_ptp_rows(staged)) == 5000
    assert _code_rows(staged) == _code_rows(plain)
    indexes = {i["name"] for i in sa.inspect(staged.engine).get_indexes(rule_ptp_edits.name)}
    assert indexes == {"ix_rule_ptp_pair", "ix_rule_ptp_column2"}
    assert not list((tmp_path / "staged").glob("*.ptp-staging"))
    # A later run: nothing to stage, the same editions stay current.
    current = {e.setting: e.id for e in staged.current_editions() if e.kind == "PTP"}
    assert PtpStaging.start(staged_settings, staged, show=False) is None
    assert {s: status for s, (status, _) in _ptp_loads(_load(staged, staged_settings, stage=True)).items()} == {
        "practitioner": "unchanged",
        "outpatient_hospital": "unchanged",
    }
    assert {e.setting: e.id for e in staged.current_editions() if e.kind == "PTP"} == current


def test_a_failed_staging_leaves_no_edition_and_no_rows_and_the_next_load_loads(tmp_path, ptp_dir):
    store, settings = _store(tmp_path, "staged")
    table = ptp_dir / TABLES["practitioner"]
    good = table.read_bytes()
    with gzip.open(table, "rt", encoding="utf-8", newline="") as text:
        lines = text.readlines()
    lines[1500] = "12,99213,*,1,bad code\n"
    with gzip.open(table, "wt", encoding="utf-8", newline="") as out:
        out.writelines(lines)
    with pytest.raises(MalformedRelease, match="line 1501"):
        _load(store, settings, stage=True)
    assert store.current_edition("PTP", "practitioner") is None
    assert store.current_edition("PTP", "outpatient_hospital") is None
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(rule_ptp_edits)).scalar_one() == 0
        statuses = conn.execute(sa.select(rule_editions.c.status).where(rule_editions.c.kind == "PTP")).scalars()
        assert set(statuses) == {"failed"}
    assert not list((tmp_path / "staged").glob("*.ptp-staging"))
    table.write_bytes(good)
    loads = _ptp_loads(_load(store, settings, stage=True))
    assert {s: status for s, (status, _) in loads.items()} == {
        "practitioner": "loaded",
        "outpatient_hospital": "loaded",
    }
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(rule_ptp_edits)).scalar_one() == 5000
        statuses = conn.execute(sa.select(rule_editions.c.status).where(rule_editions.c.kind == "PTP")).scalars()
        assert sorted(statuses) == ["current", "current"]  # the failed ones purged


def test_no_staging_on_postgresql(tmp_path, ptp_dir, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("staging is for SQLite files: this checks PostgreSQL")
    engine = make_engine(database_url)
    try:
        CodeStore(engine).migrate()
        settings = load_settings(DATA_DIR=tmp_path, DATA_MIRROR=tmp_path, DATABASE_URL=database_url)
        assert PtpStaging.start(settings, RulesStore(engine), show=False) is None
    finally:
        engine.dispose()
