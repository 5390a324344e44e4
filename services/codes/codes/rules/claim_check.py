"""The NCCI claim check: PTP pairs, MUE units, unknown and deleted codes. Pure: the facts
(edits, MUEs, code statuses) come in as plain values, the verdict goes out.

How CMS dates are read (decided from the release files and the NCCI Policy Manual):
* An edit applies to a date of service (DOS) when effective date <= DOS (an unknown
  effective date, as in the mirror's "noeffdate" tables, counts as already effective)
  and DOS <= deletion date, or there is no deletion date.
* The deletion date is the LAST day the edit is in force, not the first day it is gone:
  CMS dates deletions on the last day of a quarter (20231231, 20240331, 20240630, 20240930
  for edits absent from the next quarterly release; 20240630 for the 295 edits dropped by
  the 2024-07-01 release), while the effective dates of new edits are the first day of a
  quarter. Edits with modifier indicator 9 carry deletion date = effective date (the
  manual: "used for all code pairs that have a deletion date that is the same as the
  effective date"); they are no edit at all.
* Modifier indicator 0: never separable. 1: separable when an NCCI PTP-associated
  modifier is on the column-2 line. 9: no edit.
* The HCPCS TERM DT is likewise the last day a code is valid (20241231 etc.).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from medcode_contracts.coding_rules import (
    INFORMATIONAL_KINDS,
    NCCI_ASSOCIATED_MODIFIERS,
    ClaimCheck,
    ClaimFinding,
    ClaimInput,
    FindingKind,
    parse_claim,  # noqa: F401 - re-exported (codes.rules.engine); the gateway checks claims with it too
)

from ..domain import code_key
from .coverage import CodeEditor, LabNcdFacts, code_edit_findings, coverage_findings

_NCCI_LIST = ", ".join(sorted(NCCI_ASSOCIATED_MODIFIERS, key=lambda m: (not m.isdigit(), m)))


class EditFact(NamedTuple):
    """A named tuple: a claim check makes one per PTP row its query returns, straight
    from the row tuple (edits_from_rows)."""

    column1: str
    column2: str
    effective: date | None
    deleted: date | None
    modifier_indicator: int
    rationale: str | None = None


@dataclass(slots=True, frozen=True)
class MueFact:
    max_units: int
    adjudication_indicator: str  # "1 Line Edit", "2 Date of Service Edit: Policy", ...
    rationale: str | None = None

    @property
    def per_line(self) -> bool:
        """MAI 1 limits each claim line; MAI 2 and 3 limit the day's total."""
        return self.adjudication_indicator.startswith("1")


@dataclass(slots=True, frozen=True)
class CodeFact:
    last_day: date | None  # None: valid now
    source: str


@dataclass(slots=True)
class RuleFacts:
    """What the store knows about the codes of one claim."""

    edits: list[EditFact] = field(default_factory=list)
    ptp_source: str | None = None  # None: no PTP table for this setting
    mue: Mapping[str, MueFact] = field(default_factory=dict)
    mue_source: str | None = None
    codes: Mapping[str, list[CodeFact]] = field(default_factory=dict)
    ncds: LabNcdFacts | None = None  # lab NCD edits (coverage of lab tests by diagnosis)
    editor: CodeEditor | None = None  # Medicare Code Editor lists (the claim's diagnoses)


def in_force(edit: EditFact, dos: date) -> bool:
    if edit.modifier_indicator == 9:
        return False
    if edit.effective is not None and edit.effective > dos:
        return False
    return edit.deleted is None or dos <= edit.deleted


def _stricter(edit: EditFact, held: EditFact) -> bool:
    """The lower modifier indicator; between rows of one indicator in force together (CMS
    lists some pairs twice), one chosen by their fields, so the finding never depends on
    the order the rows came in: one with a rationale, the first by rationale, the latest."""
    if edit.modifier_indicator != held.modifier_indicator:
        return edit.modifier_indicator < held.modifier_indicator

    def rank(e: EditFact) -> tuple:
        return (e.rationale is None, e.rationale or "", -(e.effective or date.min).toordinal(), e.deleted or date.max)

    return rank(edit) < rank(held)


def claim_codes(claim: ClaimInput) -> list[str]:
    """The distinct normalised codes of a claim, in line order."""
    return list(dict.fromkeys(code_key(line.code) for line in claim.lines))


def check_claim(claim: ClaimInput, facts: RuleFacts, today: date | None = None) -> ClaimCheck:
    dos = claim.date_of_service or today or date.today()
    keys = [code_key(line.code) for line in claim.lines]
    positions: dict[str, list[int]] = {}  # code -> its line indexes, in first-line order
    for i, key in enumerate(keys):
        positions.setdefault(key, []).append(i)
    # A ClaimFinding's fields, or a ClaimFinding (coverage): validated once, with the ClaimCheck
    # at the end, which costs a claim with a dozen findings half of one model per finding.
    findings: list[dict[str, Any] | ClaimFinding] = []

    # 1. Unknown and deleted codes.
    usable: set[str] = set()
    for key, at in positions.items():
        lines = [i + 1 for i in at]
        known = facts.codes.get(key, [])
        if not known:
            findings.append(
                {
                    "kind": FindingKind.UNKNOWN_CODE,
                    "codes": [key],
                    "lines": lines,
                    "message": f"{key} is not a procedure code in any loaded NCCI, MUE, HCPCS or CPT file.",
                    "source": ", ".join(s for s in (facts.ptp_source, facts.mue_source) if s) or "no rule file loaded",
                }
            )
            continue
        if any(f.last_day is None or dos <= f.last_day for f in known):
            usable.add(key)
            continue
        # Every fact of the code ended before the date of service: cite the latest end.
        last_day, last_source = max(
            ((f.last_day, f.source) for f in known if f.last_day is not None), key=lambda ended: ended[0]
        )
        findings.append(
            {
                "kind": FindingKind.DELETED_CODE,
                "codes": [key],
                "lines": lines,
                "message": (
                    f"{key} was last valid on {last_day.isoformat()}, before the date of service {dos.isoformat()}."
                ),
                "source": last_source,
            }
        )

    # 2. PTP: every ordered pair of lines against the edits in force; the strictest wins.
    strictest: dict[tuple[str, str], EditFact] = {}
    for edit in facts.edits:
        if in_force(edit, dos):
            pair = (edit.column1, edit.column2)
            held = strictest.get(pair)
            if held is None or _stricter(edit, held):
                strictest[pair] = edit
    # From the few edits to their lines (not over all line pairs), in line-pair order.
    hits = sorted(
        (i, j, edit)
        for (first, second), edit in strictest.items()
        for i in positions.get(first, ())
        for j in positions.get(second, ())
        if i != j
    )
    findings.extend(_ptp_finding(edit, claim, i, j, facts.ptp_source or "") for i, j, edit in hits)

    # 3. MUE units for the claim's setting.
    for key, lines in positions.items():
        mue = facts.mue.get(key)
        if mue is None or key not in usable:
            continue
        if mue.per_line:
            for i in lines:
                units = claim.lines[i].units
                if units > mue.max_units:
                    findings.append(_mue_finding(key, [i + 1], units, mue, claim, facts.mue_source or ""))
        else:
            units = sum(claim.lines[i].units for i in lines)
            if units > mue.max_units:
                findings.append(_mue_finding(key, [i + 1 for i in lines], units, mue, claim, facts.mue_source or ""))

    # 4. Medicare coverage of lab tests by the claim's diagnoses, and the MCE's diagnosis edits.
    findings.extend(coverage_findings(claim, facts.ncds, dos))
    findings.extend(code_edit_findings(claim, facts.editor))

    editions = [s for s in (facts.ptp_source, facts.mue_source) if s]
    if claim.diagnoses:
        editions += [f.source for f in (facts.ncds, facts.editor) if f is not None]
    check = ClaimCheck.model_validate(
        {"clean": True, "findings": findings, "date_of_service": dos, "setting": claim.setting, "editions": editions}
    )
    check.clean = not any(f.kind not in INFORMATIONAL_KINDS for f in check.findings)
    return check


def _ptp_finding(edit: EditFact, claim: ClaimInput, i: int, j: int, source: str) -> dict[str, Any]:
    """A ClaimFinding's fields (see check_claim)."""
    col1, col2 = edit.column1, edit.column2
    why = f" Rationale: {edit.rationale}." if edit.rationale else ""
    found: dict[str, Any] = {
        "kind": FindingKind.PTP,
        "codes": [col1, col2],
        "lines": [i + 1, j + 1],
        "modifier_allowed": edit.modifier_indicator != 0,
        "source": source,
    }
    if edit.modifier_indicator == 0:
        found["message"] = (
            f"{col2} (line {j + 1}) is bundled into {col1} (line {i + 1}): NCCI PTP edit with "
            f"modifier indicator 0, so no modifier lets {col2} be paid with {col1}.{why}"
        )
        return found
    used = [m for m in claim.lines[j].modifiers if m in NCCI_ASSOCIATED_MODIFIERS]
    if used:
        found["kind"] = FindingKind.PTP_MODIFIER
        found["message"] = (
            f"{col2} (line {j + 1}) is bundled into {col1} (line {i + 1}) but carries the "
            f"NCCI PTP-associated modifier {', '.join(used)}, which bypasses the edit "
            f"(modifier indicator 1) when the documentation supports it.{why}"
        )
        return found
    found["message"] = (
        f"{col2} (line {j + 1}) is bundled into {col1} (line {i + 1}): NCCI PTP edit with "
        f"modifier indicator 1. {col2} is payable only with an NCCI PTP-associated modifier "
        f"({_NCCI_LIST}) when clinically appropriate.{why}"
    )
    return found


def _mue_finding(
    key: str, lines: list[int], units: int, mue: MueFact, claim: ClaimInput, source: str
) -> dict[str, Any]:
    """A ClaimFinding's fields (see check_claim)."""
    scope = "on one line" if mue.per_line else "on the date of service"
    why = f" Rationale: {mue.rationale}." if mue.rationale else ""
    return {
        "kind": FindingKind.MUE,
        "codes": [key],
        "lines": lines,
        "source": source,
        "message": (
            f"{units} units of {key} {scope} exceed the {claim.setting.value.replace('_', ' ')} "
            f"MUE of {mue.max_units} (MAI {mue.adjudication_indicator}).{why}"
        ),
    }


def edits_from_rows(rows: Iterable) -> list[EditFact]:
    """Store rows (column1, column2, effective_from, deleted_on, modifier_indicator, rationale)."""
    new = tuple.__new__  # EditFact(*row) runs Python code per row
    return [new(EditFact, row) for row in rows]
