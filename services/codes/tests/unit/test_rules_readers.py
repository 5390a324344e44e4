"""Readers of the CMS rule files, on the real files of the mirror and on broken copies."""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from pathlib import Path

import pytest

from codes.code_sets import cpt_file, hcpcs, hcpcs_modifiers, icd10cm_index
from codes.domain import ModifierRow, ProcedureCodeRow
from codes.release_files import MalformedRelease
from codes.rules import gems, ncci_mue, ncci_ptp

PRIORPATH = "ncci_ptp/priorpath_ptp_subset_100codes_v322r0_v323r0.csv.gz"
EXCERPT = "ncci_ptp/ccipra-v322r0-f1.excerpt.txt"
OUTPATIENT = "ncci_ptp/medicare_ptp_outpatient_hospital_v302r0_2024q3_noeffdate.csv.gz"
MUE_FILES = [
    "MCR_MUE_PractitionerServices_Eff_04-01-2026.csv",
    "MCR_MUE_OutpatientHospitalServices_Eff_04-01-2026.csv",
    "MCR_MUE_DMESupplierServices_Eff_04-01-2026.csv",
]


def _raw_data_lines(path: Path) -> int:
    """Data rows counted without the reader: CSV records after the header."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="cp1252", newline="") as handle:
        records = list(csv.reader(handle))
    start = next(i for i, r in enumerate(records) if r and r[0].upper().startswith(("HCPCS", "COL")))
    return sum(1 for r in records[start + 1 :] if any(c.strip() for c in r))


@pytest.mark.parametrize("name", MUE_FILES)
def test_mue_reader_yields_every_row_of_the_real_file(data_mirror, name):
    path = data_mirror / "ncci_mue" / name
    rows = list(ncci_mue.read_mue(path))
    assert len(rows) == _raw_data_lines(path)
    assert all(r.adjudication_indicator[0] in "123" for r in rows)
    assert len({r.code for r in rows}) == len(rows)


def test_mue_reader_keeps_cms_text_of_the_adjudication_indicator(data_mirror):
    rows = {r.code: r for r in ncci_mue.read_mue(data_mirror / "ncci_mue" / MUE_FILES[0])}
    assert rows["0001U"].adjudication_indicator == "2 Date of Service Edit: Policy"
    assert rows["0001U"].max_units == 1
    assert rows["0001U"].rationale == "Code Descriptor / CPT Instruction"


def test_ptp_layouts_are_detected_and_read_with_their_dates(data_mirror):
    excerpt = list(ncci_ptp.read_ptp(data_mirror / EXCERPT))
    assert len(excerpt) == 154
    first = excerpt[0]
    assert (
        first.column1,
        first.column2,
        first.effective.isoformat(),
        first.deleted.isoformat(),
        first.modifier_indicator,
    ) == ("0001A", "0591T", "2022-01-01", "2023-12-31", 1)
    subset = list(ncci_ptp.read_ptp(data_mirror / PRIORPATH))
    assert len(subset) == 4894 and all(r.effective is not None and r.rationale is None for r in subset)
    assert ncci_ptp.priorpath_versions(data_mirror / PRIORPATH) == ["NCCI-2026Q3", "NCCI-2026Q4"]
    assert len(list(ncci_ptp.read_ptp_priorpath(data_mirror / PRIORPATH, ref_version="NCCI-2026Q3"))) == 2447


def test_full_outpatient_table_is_read_completely(data_mirror):
    path = data_mirror / OUTPATIENT
    count = active = 0
    for row in ncci_ptp.read_ptp(path):
        count += 1
        active += row.deleted is None
        assert row.effective is None
    assert (count, active) == (1_775_818, 1_335_857)  # SOURCES.md


def test_v301_layout_with_the_prior_1996_column_reads_too(data_mirror):
    path = data_mirror / "ncci_ptp/medicare_ptp_practitioner_v301r0_2024q2_noeffdate.csv.gz"
    head = [r for _, r in zip(range(5), ncci_ptp.read_ptp(path))]
    assert head[0].column1 == "0001A" and head[0].modifier_indicator == 1 and head[0].rationale


@pytest.mark.parametrize("name,rows", [("2018_I10gem.txt", 81_593), ("2018_I9gem.txt", 24_860)])
def test_gem_reader_counts_and_flags(data_mirror, name, rows):
    found = list(gems.read_gem(data_mirror / "icd10cm_gems" / name))
    assert len(found) == rows
    assert any(r.approximate for r in found) and any(r.no_map for r in found)


def test_index_gives_lay_terms_through_see_references(data_mirror):
    terms = defaultdict(set)
    for term in icd10cm_index.read_index_lay_terms(data_mirror / "icd10cm_index/ICD10CM_2025_Index_flattened.csv.gz"):
        terms[term.code].add(term.term)
    assert "heart attack" in terms["I21.9"]  # Attack, heart -> see Infarct, myocardium
    assert "hypertension" in terms["I10"]
    assert any("blood" in t and "high" in t for t in terms["I10"])  # Blood, pressure, high -> see Hypertension
    assert "transient ischemic attack" in terms["G45.9"]
    # non-essential modifiers are read in too: "Infection, urinary (tract)"
    assert {"urinary infection", "urinary tract infection"} <= terms["N39.0"]
    # "Hypertensive urgency -> see Hypertension" means Hypertension, urgency (I16.0) ...
    assert "hypertensive urgency" in terms["I16.0"] and "hypertensive urgency" not in terms["I10"]
    # ... while "Disease, hypertensive -> see Hypertension" is Hypertension itself
    assert "hypertensive disease" in terms["I10"]


def test_non_essential_modifier_groups():
    assert icd10cm_index._modifiers("(tract)") == ["tract"]
    assert icd10cm_index._modifiers("(-astasia) (hysterical)") == ["hysterical"]
    assert icd10cm_index._modifiers("") == []


def test_hcpcs_modifiers_and_codes(data_mirror):
    modifiers = {
        m.code: m for m in hcpcs_modifiers.read_hcpcs_modifiers(data_mirror / "hcpcs/HCPC2025_OCT_modifiers.csv")
    }
    assert len(modifiers) == 383
    assert modifiers["XS"].title == "Separate organ/structure"
    codes = list(hcpcs.read_hcpcs_codes(data_mirror / "hcpcs/HCPC2025_OCT_ANWEB.csv"))
    assert len(codes) == 8463 and all(c.system == "HCPCS" for c in codes)


# ---- broken input: clear errors naming file and line ---------------------------------------------


def _gz(path: Path, text: str) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(text)
    return path


def test_bad_ptp_date_names_file_and_line(tmp_path):
    path = _gz(
        tmp_path / "bad.csv.gz",
        "column_1,column_2,deletion_date,modifier_indicator,ptp_edit_rationale\n"
        "0001A,0591T,20231231,1,x\n0001A,0592T,2023-12,1,x\n",
    )
    with pytest.raises(MalformedRelease, match=r"bad\.csv\.gz, line 3: deletion date '2023-12'"):
        list(ncci_ptp.read_ptp(path))


def test_bad_modifier_indicator_and_code(tmp_path):
    path = _gz(
        tmp_path / "ind.csv.gz",
        "column_1,column_2,deletion_date,modifier_indicator,ptp_edit_rationale\n0001A,0591T,*,7,x\n",
    )
    with pytest.raises(MalformedRelease, match="line 2: modifier indicator '7'"):
        list(ncci_ptp.read_ptp(path))
    path = _gz(
        tmp_path / "code.csv.gz",
        "column_1,column_2,deletion_date,modifier_indicator,ptp_edit_rationale\n0001,0591T,*,1,x\n",
    )
    with pytest.raises(MalformedRelease, match="column 1 '0001'"):
        list(ncci_ptp.read_ptp(path))


def test_truncated_gzip_is_a_malformed_release(tmp_path, data_mirror):
    data = (data_mirror / PRIORPATH).read_bytes()
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MalformedRelease, match="cut.csv.gz: unreadable"):
        list(ncci_ptp.read_ptp(path))


def test_unknown_ptp_layout_and_mue_without_header(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(MalformedRelease, match="other.csv, line 1: not an NCCI PTP layout"):
        list(ncci_ptp.read_ptp(path))
    mue = tmp_path / "mue.csv"
    mue.write_text("x\ny\nz\nq\nr\ns\nt\n", encoding="cp1252")
    with pytest.raises(MalformedRelease, match="no header row starting with 'HCPCS'"):
        list(ncci_mue.read_mue(mue))


def test_cms_txt_with_short_row(tmp_path):
    path = tmp_path / "ccipra-v999r0-f1.txt"
    path.write_bytes(
        b"CPT only copyright 2025 American Medical Association.\t\t\r\n"
        b"Column1/Column2 Edits\t\t\r\n0001A\t0591T\t\t20220101\r\n"
    )
    with pytest.raises(MalformedRelease, match="line 3: 4 tab-separated fields"):
        list(ncci_ptp.read_ptp(path))


def test_licensed_cpt_file_reader_with_fake_descriptors(tmp_path):
    # Made-up descriptors: no AMA text is ever committed.
    path = tmp_path / "cpt.txt"
    path.write_text(
        "CPT fake licensed file header\n"
        "99213\tFAKE DESCRIPTOR FOR TESTS: office visit\n"
        "20610\tFAKE DESCRIPTOR FOR TESTS: joint injection\n"
        "59\tFAKE DESCRIPTOR FOR TESTS: distinct service\n"
    )
    rows = list(cpt_file.read_cpt_file(path))
    codes = [r for r in rows if isinstance(r, ProcedureCodeRow)]
    mods = [r for r in rows if isinstance(r, ModifierRow)]
    assert [c.code for c in codes] == ["99213", "20610"] and all(c.system == "CPT" for c in codes)
    assert mods[0].code == "59" and mods[0].title.startswith("FAKE DESCRIPTOR FOR TESTS")
    empty = tmp_path / "empty.txt"
    empty.write_text("nothing here\n")
    with pytest.raises(MalformedRelease, match="no CPT code lines"):
        list(cpt_file.read_cpt_file(empty))
