"""Plain rows of the coding-rule files (NCCI PTP and MUE, GEMs, lab NCDs, the MCD index, the
MCE), as their readers (codes.rules.*) yield them and the RulesStore keeps them.

No nameko, no database here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple


class PtpRow(NamedTuple):
    """One NCCI procedure-to-procedure edit row.

    `deleted` is the LAST day the edit was in force (CMS dates deletions on the last day of
    a quarter, e.g. 20231231 for edits gone from the January release; see claim_check).
    `effective` is None when the release layout carries no effective date (the mirror's
    "noeffdate" tables).

    A named tuple, not a dataclass: millions of them stream from the reader straight into
    the database driver's bulk insert, in the rule_ptp_edits column order.
    """

    column1: str
    column2: str
    effective: date | None
    deleted: date | None
    modifier_indicator: int
    rationale: str | None


class MueRow(NamedTuple):
    code: str
    max_units: int
    adjudication_indicator: str  # CMS's text, e.g. "2 Date of Service Edit: Policy"
    rationale: str | None


@dataclass(slots=True, frozen=True)
class GemRow:
    """One general equivalence mapping row (source and target without dots)."""

    source: str
    target: str  # "NoDx" / "NoPCS" when no_map
    approximate: bool
    no_map: bool
    combination: bool
    scenario: int
    choice_list: int


# ---- Medicare coverage and code edits -----------------------------------------------------


@dataclass(slots=True, frozen=True)
class NcdProcedureRow:
    """A procedure code a lab NCD governs (lab NCD spreadsheet, HCPCS part)."""

    ncd: str  # "190.12"
    title: str  # "Urine Culture, Bacterial"
    code: str  # CPT/HCPCS number
    effective: date | None
    term: date | None  # last day; None = in force


@dataclass(slots=True, frozen=True)
class NcdDiagnosisRow:
    """An ICD-10-CM code's resolution under a lab NCD (code "@@@@@@@" = every other code)."""

    ncd: str
    code: str  # without dot, or ALL_OTHER_DIAGNOSES
    effective: date | None
    term: date | None
    resolution: int  # 1 covered, 2 denied, 3 does not support medical necessity
    changed: bool  # "*" in the release: changed by it


ALL_OTHER_DIAGNOSES = "@@@@@@@"


@dataclass(slots=True, frozen=True)
class CoverageDocumentRow:
    """One LCD or billing article of the Medicare Coverage Database index (metadata only)."""

    document_id: str  # "L36668"
    document_type: str  # "LCD" / "Article"
    title: str
    contractor: str
    effective: date | None
    version: str | None
    url: str | None


@dataclass(slots=True, frozen=True)
class MceRow:
    """One code of one Medicare Code Editor list."""

    edit: str  # AGE_CONFLICT, MANIFESTATION_PDX, ...
    number: str  # the list's number in the MCE: "4C", "6", "11D"
    list_title: str  # the list's heading as the MCE prints it
    code: str  # without dot
    code_system: str  # ICD10CM or ICD10PCS
    flag: str | None  # "*" on the unacceptable-PDX list: acceptable with a secondary diagnosis
