"""Plain records of the CMS rule files, as the readers yield them and the store keeps them.

No nameko, no database here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from medcode_contracts.codes import CodeSystem, canonical_code


@dataclass(slots=True, frozen=True)
class PtpRow:
    """One NCCI procedure-to-procedure edit row.

    `deleted` is the LAST day the edit was in force (CMS dates deletions on the last day of
    a quarter, e.g. 20231231 for edits gone from the January release; see claim_check).
    `effective` is None when the release layout carries no effective date (the mirror's
    "noeffdate" tables).
    """

    column1: str
    column2: str
    effective: date | None
    deleted: date | None
    modifier_indicator: int
    rationale: str | None


@dataclass(slots=True, frozen=True)
class MueRow:
    code: str
    max_units: int
    adjudication_indicator: str   # CMS's text, e.g. "2 Date of Service Edit: Policy"
    rationale: str | None


@dataclass(slots=True, frozen=True)
class GemRow:
    """One general equivalence mapping row (source and target without dots)."""

    source: str
    target: str          # "NoDx" / "NoPCS" when no_map
    approximate: bool
    no_map: bool
    combination: bool
    scenario: int
    choice_list: int


@dataclass(slots=True, frozen=True)
class LayTerm:
    code: str            # ICD-10-CM code as printed in the index ("I21.9")
    term: str            # readable phrase, e.g. "heart attack"
    # Where the phrase comes from, for a search hit to say why it matched: the index path,
    # and the cross-reference followed ("Attack, heart - see Infarct, myocardium").
    path: str | None = None


@dataclass(slots=True, frozen=True)
class ModifierRow:
    code: str
    title: str
    description: str | None
    system: str          # "HCPCS" or "CPT"
    terminated_on: date | None


@dataclass(slots=True, frozen=True)
class ProcedureCodeRow:
    """A procedure code a rule file or code file knows, with what we may show of it.

    `title` is None for CPT codes unless a licensed AMA file was loaded.
    `last_day` is the last day the code was valid (None = valid now)."""

    code: str
    system: str          # "CPT" or "HCPCS"
    title: str | None
    last_day: date | None


def procedure_system(code: str) -> str:
    """HCPCS Level II codes start with a letter; CPT codes (Category I-III, PLA) with a digit."""
    return "HCPCS" if code[:1].isalpha() else "CPT"


def format_icd10cm(key: str) -> str:
    """"I219" -> "I21.9" (the dot goes after the category's three characters)."""
    return canonical_code(CodeSystem.ICD10CM, key)


def format_icd9cm(key: str) -> str:
    """ICD-9-CM diagnosis codes: "41090" -> "410.90", "E8800" -> "E880.0", "V0101" -> "V01.01"."""
    key = key.upper()
    head = 4 if key.startswith("E") else 3
    return key if len(key) <= head else f"{key[:head]}.{key[head:]}"


# ---- Medicare coverage and code edits -----------------------------------------------------

@dataclass(slots=True, frozen=True)
class NcdProcedureRow:
    """A procedure code a lab NCD governs (lab NCD spreadsheet, HCPCS part)."""

    ncd: str             # "190.12"
    title: str           # "Urine Culture, Bacterial"
    code: str            # CPT/HCPCS number
    effective: date | None
    term: date | None    # last day; None = in force


@dataclass(slots=True, frozen=True)
class NcdDiagnosisRow:
    """An ICD-10-CM code's resolution under a lab NCD (code "@@@@@@@" = every other code)."""

    ncd: str
    code: str            # without dot, or ALL_OTHER_DIAGNOSES
    effective: date | None
    term: date | None
    resolution: int      # 1 covered, 2 denied, 3 does not support medical necessity
    changed: bool        # "*" in the release: changed by it


ALL_OTHER_DIAGNOSES = "@@@@@@@"


@dataclass(slots=True, frozen=True)
class CoverageDocumentRow:
    """One LCD or billing article of the Medicare Coverage Database index (metadata only)."""

    document_id: str     # "L36668"
    document_type: str   # "LCD" / "Article"
    title: str
    contractor: str
    effective: date | None
    version: str | None
    url: str | None


@dataclass(slots=True, frozen=True)
class MceRow:
    """One code of one Medicare Code Editor list."""

    edit: str            # AGE_CONFLICT, MANIFESTATION_PDX, ...
    number: str          # the list's number in the MCE: "4C", "6", "11D"
    list_title: str      # the list's heading as the MCE prints it
    code: str            # without dot
    code_system: str     # ICD10CM or ICD10PCS
    flag: str | None     # "*" on the unacceptable-PDX list: acceptable with a secondary diagnosis
