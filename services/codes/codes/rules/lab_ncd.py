"""Lab NCD edits (CMS's lab NCD spreadsheet, as the mirror's two CSVs): which procedure codes
each lab NCD governs, and each ICD-10-CM code's resolution under it."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from ..release_files import MalformedRelease, Wrap, gz_guard, open_text, require_columns
from .rows import ALL_OTHER_DIAGNOSES, NcdDiagnosisRow, NcdProcedureRow

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


def read_ncd_procedures(path: Path, wrap: Wrap = None) -> Iterator[NcdProcedureRow]:
    """`lab_ncd_*_hcpcs_codes.csv`: ncd_number, ncd_title, hcpcs_code, hcpcs_eff_date, hcpcs_term_date."""
    return gz_guard(path, _read_ncd_procedures(path, wrap))


def _read_ncd_procedures(path: Path, wrap: Wrap) -> Iterator[NcdProcedureRow]:
    with open_text(path, wrap=wrap) as text:
        rows = csv.DictReader(text)
        require_columns(path, rows, ["ncd_number", "ncd_title", "hcpcs_code", "hcpcs_eff_date", "hcpcs_term_date"])
        for row in rows:
            line = rows.line_num
            ncd, code = row["ncd_number"].strip(), row["hcpcs_code"].strip().upper()
            if not _NCD.match(ncd):
                raise MalformedRelease(path, line, f"NCD number {ncd!r} is not like 190.12")
            if not _PROCEDURE.match(code):
                raise MalformedRelease(path, line, f"procedure code {code!r} is not 5 characters")
            yield NcdProcedureRow(
                ncd=ncd,
                title=" ".join(row["ncd_title"].split()),
                code=code,
                effective=_iso_or_none(row["hcpcs_eff_date"], path, line, "hcpcs_eff_date"),
                term=_iso_or_none(row["hcpcs_term_date"], path, line, "hcpcs_term_date"),
            )


def read_ncd_diagnoses(path: Path, wrap: Wrap = None) -> Iterator[NcdDiagnosisRow]:
    """`lab_ncd_*_icd10_codes.csv`: ncd_number, icd10cm_code (no dot; @@@@@@@ = all other
    codes), icd10_eff_date, icd10_term_date, resolution_code (1/2/3). A leading "*" marks a
    change in this release (on the code, its date, written MM/DD/YY, and the resolution)."""
    return gz_guard(path, _read_ncd_diagnoses(path, wrap))


def _read_ncd_diagnoses(path: Path, wrap: Wrap) -> Iterator[NcdDiagnosisRow]:
    with open_text(path, wrap=wrap) as text:
        rows = csv.DictReader(text)
        require_columns(
            path, rows, ["ncd_number", "icd10cm_code", "icd10_eff_date", "icd10_term_date", "resolution_code"]
        )
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
            yield NcdDiagnosisRow(
                ncd=ncd,
                code=code,
                resolution=int(resolution),
                changed=changed,
                effective=_iso_or_none(row["icd10_eff_date"], path, line, "icd10_eff_date"),
                term=_iso_or_none(row["icd10_term_date"], path, line, "icd10_term_date"),
            )
