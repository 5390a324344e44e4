"""Medicare lab National Coverage Determinations (NCD 190.12-190.34) from the coverage
files of the mirror: which procedure codes an NCD governs, and per NCD which ICD-10-CM
codes are covered, denied or do not support medical necessity."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

RESOLUTIONS = {
    "1": "covered (the diagnosis supports medical necessity)",
    "2": "denied (a non-covered diagnosis under this NCD)",
    "3": "does not support medical necessity (an ABN may apply)",
}
ALL_OTHER_CODES = "@@@@@@@"


@dataclass
class LabNcds:
    ncd_titles: dict[str, str] = field(default_factory=dict)
    by_procedure: dict[str, list[str]] = field(default_factory=dict)  # HCPCS/CPT -> NCD numbers
    # NCD -> ICD key -> "1"|"2"|"3". Nested, with one string per NCD and per resolution:
    # 64 k diagnosis rows keyed by (NCD, code) tuples took 18 MB in every assistant process.
    resolutions: dict[str, dict[str, str]] = field(default_factory=dict)
    procedure_file: str = ""
    diagnosis_file: str = ""

    @property
    def loaded(self) -> bool:
        return bool(self.by_procedure)

    @classmethod
    def from_mirror(cls, mirror: Path | None) -> LabNcds:
        ncds = cls()
        if mirror is None:
            return ncds
        folder = Path(mirror) / "coverage"
        procedures = sorted(folder.glob("lab_ncd_*_hcpcs_codes.csv"))
        diagnoses = sorted(folder.glob("lab_ncd_*_icd10_codes.csv"))
        if not procedures or not diagnoses:
            return ncds
        ncds.procedure_file, ncds.diagnosis_file = procedures[-1].name, diagnoses[-1].name
        with open(procedures[-1], newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row.get("hcpcs_term_date"):
                    continue
                number, code = row["ncd_number"].strip(), row["hcpcs_code"].strip().upper()
                ncds.ncd_titles[number] = row["ncd_title"].strip()
                ncds.by_procedure.setdefault(code, [])
                if number not in ncds.by_procedure[code]:
                    ncds.by_procedure[code].append(number)
        shared: dict[str, str] = {}
        with open(diagnoses[-1], newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row.get("icd10_term_date"):
                    continue
                code = row["resolution_code"].strip().lstrip("*")
                ncd = row["ncd_number"].strip()
                by_code = ncds.resolutions.setdefault(shared.setdefault(ncd, ncd), {})
                by_code[row["icd10cm_code"].strip().upper()] = shared.setdefault(code, code)
        return ncds

    @property
    def edition(self) -> str:
        match = re.search(r"(\d{4}q\d)", self.procedure_file)
        return match.group(1).upper() if match else "current release"

    def resolution(self, ncd: str, icd_key: str) -> tuple[str, bool] | None:
        """(resolution code, listed explicitly) for a diagnosis under an NCD."""
        by_code = self.resolutions.get(ncd, {})
        code = by_code.get(icd_key)
        if code is not None:
            return code, True
        default = by_code.get(ALL_OTHER_CODES)
        return (default, False) if default is not None else None
