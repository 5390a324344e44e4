"""Medicare coverage and the Medicare Code Editor over plain facts: which lab NCDs govern a
procedure code or list a diagnosis, which LCDs and articles of the MCD index are about a
code's subject, which MCE edits list a code; and the claim check's coverage and code-edit
findings. Pure: the facts come in as rows (codes.rules.rows), the answers go out as
contract models. No nameko, no database.

How the lab NCD spreadsheet is read (CMS's NCD coding policy manual): a lab test under an
NCD is covered when at least one of the claim's diagnoses is listed as covered (1) for
it. Listed as denied (2): the test is never covered for that diagnosis. Every diagnosis
not listed takes the NCD's "all other codes" row (@@@@@@@): for most NCDs "does not
support medical necessity" (3), for Blood Counts (190.15) covered. A row applies from its
effective date through its term date.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from medcode_common.fields import fields_from
from medcode_contracts.coding_rules import (
    ClaimFinding,
    ClaimInput,
    CodeEdit,
    CoverageDocument,
    FindingKind,
    LabNcd,
    NcdDiagnosis,
    NcdResolution,
)

from ..domain import code_key, format_icd10cm
from .mce import mce_age_range
from .rows import ALL_OTHER_DIAGNOSES, CoverageDocumentRow, MceRow, NcdDiagnosisRow, NcdProcedureRow

RESOLUTIONS = {1: NcdResolution.COVERED, 2: NcdResolution.DENIED, 3: NcdResolution.NOT_SUPPORTED}
_RESOLUTION_WORDS: dict[NcdResolution | None, str] = {
    NcdResolution.COVERED: "covered",
    NcdResolution.DENIED: "denied (never covered)",
    NcdResolution.NOT_SUPPORTED: "does not support medical necessity",
}


def _in_force(effective: date | None, term: date | None, day: date) -> bool:
    return (effective is None or effective <= day) and (term is None or day <= term)


@dataclass(slots=True)
class LabNcdFacts:
    """The current lab NCD edition, indexed for lookups both ways."""

    source: str
    titles: dict[str, str] = field(default_factory=dict)  # ncd -> title
    procedures: dict[str, list[NcdProcedureRow]] = field(default_factory=dict)  # code -> rows
    codes_of: dict[str, list[str]] = field(default_factory=dict)  # ncd -> procedure codes
    listed: dict[str, dict[str, list[NcdDiagnosisRow]]] = field(default_factory=dict)  # ncd -> dx -> rows
    by_diagnosis: dict[str, list[NcdDiagnosisRow]] = field(default_factory=dict)  # dx -> rows
    others: dict[str, list[NcdDiagnosisRow]] = field(default_factory=dict)  # ncd -> @@@@@@@ rows

    @classmethod
    def build(cls, source: str, procedures: list[NcdProcedureRow], diagnoses: list[NcdDiagnosisRow]) -> LabNcdFacts:
        facts = cls(source=source)
        for row in procedures:
            facts.titles.setdefault(row.ncd, row.title)
            facts.procedures.setdefault(row.code, []).append(row)
            facts.codes_of.setdefault(row.ncd, [])
            if row.code not in facts.codes_of[row.ncd]:
                facts.codes_of[row.ncd].append(row.code)
        for dx_row in diagnoses:
            if dx_row.code == ALL_OTHER_DIAGNOSES:
                facts.others.setdefault(dx_row.ncd, []).append(dx_row)
                continue
            facts.listed.setdefault(dx_row.ncd, {}).setdefault(dx_row.code, []).append(dx_row)
            facts.by_diagnosis.setdefault(dx_row.code, []).append(dx_row)
        return facts

    def ncds_of_procedure(self, code: str, day: date) -> list[str]:
        return sorted({r.ncd for r in self.procedures.get(code, []) if _in_force(r.effective, r.term, day)})

    def resolution(self, ncd: str, diagnosis: str, day: date) -> tuple[NcdResolution | None, bool]:
        """(what `diagnosis` is under `ncd` on `day`, whether it is listed by name)."""
        rows = [r for r in self.listed.get(ncd, {}).get(diagnosis, []) if _in_force(r.effective, r.term, day)]
        if rows:
            return RESOLUTIONS[rows[-1].resolution], True
        return self.other_resolution(ncd, day), False

    def other_resolution(self, ncd: str, day: date) -> NcdResolution | None:
        rows = [r for r in self.others.get(ncd, []) if _in_force(r.effective, r.term, day)]
        return RESOLUTIONS[rows[-1].resolution] if rows else None

    def procedure_ncds(
        self, code: str, day: date, first: int, titles: dict[str, str], counts: dict[str, dict[int, int]] | None = None
    ) -> list[LabNcd]:
        """The NCDs governing a procedure code, each with its first `first` diagnoses of each
        resolution (`titles`: ICD-10-CM key -> title, for those shown). `counts` (ncd ->
        resolution -> listed codes) stands in for counting when only a slice was read."""
        found = []
        for ncd in self.ncds_of_procedure(code, day):
            in_force = [
                (dx, rows[-1])
                for dx, rows in sorted(self.listed.get(ncd, {}).items())
                if any(_in_force(r.effective, r.term, day) for r in rows)
            ]
            if counts is not None and ncd in counts:
                tally = {RESOLUTIONS[r].value: n for r, n in counts[ncd].items()}
            else:
                tally = dict(Counter(RESOLUTIONS[row.resolution].value for _, row in in_force))
            shown: list[NcdDiagnosis] = []
            for resolution in (1, 2, 3):
                picked = [(dx, row) for dx, row in in_force if row.resolution == resolution][:first]
                shown.extend(
                    NcdDiagnosis(
                        code=format_icd10cm(dx),
                        title=titles.get(dx),
                        resolution=RESOLUTIONS[resolution],
                        effective_from=row.effective,
                        term_date=row.term,
                        changed=row.changed,
                    )
                    for dx, row in picked
                )
            found.append(self._lab_ncd(ncd, day, counts=tally, diagnoses=shown))
        return found

    def _lab_ncd(self, ncd: str, day: date, **page: Any) -> LabNcd:
        """The NCD as a page shows it; `page` adds what a procedure or diagnosis page lists."""
        return LabNcd(
            number=ncd,
            title=self.titles.get(ncd, ""),
            procedure_codes=self.codes_of.get(ncd, []),
            other_diagnoses=self.other_resolution(ncd, day),
            source=self.source,
            **page,
        )

    def shown_diagnoses(self, code: str, day: date, first: int) -> list[str]:
        """The diagnosis keys procedure_ncds would show (to look their titles up first)."""
        keys: list[str] = []
        for ncd in self.ncds_of_procedure(code, day):
            rows = self.listed.get(ncd, {})
            for resolution in (1, 2, 3):
                keys.extend(
                    [
                        dx
                        for dx, r in sorted(rows.items())
                        if r[-1].resolution == resolution and _in_force(r[-1].effective, r[-1].term, day)
                    ][:first]
                )
        return keys

    def diagnosis_ncds(self, diagnosis: str, day: date) -> list[LabNcd]:
        """The NCDs that list an ICD-10-CM code by name, with what it is under each."""
        found = []
        for ncd in sorted({r.ncd for r in self.by_diagnosis.get(diagnosis, [])}):
            resolution, listed = self.resolution(ncd, diagnosis, day)
            if not listed:
                continue  # listed only by rows no longer (or not yet) in force
            found.append(self._lab_ncd(ncd, day, resolution=resolution))
        return found


# ---- the MCD index: LCDs and articles about a code's subject ----------------------------------

_WORD = re.compile(r"[a-z0-9]+")
# Words that say how or where, not what: they would match half the index.
_GENERIC = frozenset(
    """
a an and or of the to in on with without for by from via at as into other others unspecified specified
not elsewhere classified nos nec type types due use used using each per than more less
approach open percutaneous endoscopic external natural artificial opening device devices qualifier
left right bilateral upper lower part parts body site sites
injection injections mg mcg ml gram grams unit units dose doses supply supplies kit
service services procedure procedures test tests testing billing coding code codes article lcd
disease diseases disorder disorders condition conditions syndrome acute chronic initial subsequent
encounter sequela complication complications level levels general medical therapy treatment
""".split()
)


def subject_words(text: str) -> list[str]:
    """The words of a title that say what it is about, singular, in order."""
    words = []
    for word in _WORD.findall(text.lower()):
        if len(word) < 4 or word in _GENERIC or word.isdigit():
            continue
        word = _singular(word)
        if word not in _GENERIC and word not in words:
            words.append(word)
    return words


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 5:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 4:
        return word[:-1]
    return word


@dataclass(slots=True)
class DocumentIndex:
    """The MCD index's titles by subject word. Words in more than `common` titles are too
    general to tie a document to one code."""

    source: str
    documents: list[CoverageDocumentRow]
    common: int = 60
    _by_word: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self):
        for number, document in enumerate(self.documents):
            for word in subject_words(document.title):
                self._by_word.setdefault(word, []).append(number)

    def matching(self, subject: str, first: int = 10) -> tuple[list[CoverageDocument], int]:
        """LCDs and articles whose titles share the subject's specific words (at least two
        of them when the subject has two or more), most shared words first, then newest."""
        specific = [w for w in subject_words(subject) if len(self._by_word.get(w, ())) <= self.common]
        words = [w for w in specific if w in self._by_word]
        if not words:
            return [], 0
        # Words no title has still count: "Urine Culture, Bacterial" is not "Urine Drug Testing".
        need = min(2, len(specific))
        shared: dict[int, list[str]] = {}
        for word in words:
            for number in self._by_word[word]:
                shared.setdefault(number, []).append(word)
        hits = [(number, matched) for number, matched in shared.items() if len(matched) >= need]
        hits.sort(
            key=lambda hit: (
                -len(hit[1]),
                -(self.documents[hit[0]].effective or date.min).toordinal(),
                self.documents[hit[0]].document_id,
            )
        )
        return [self._document(number, matched) for number, matched in hits[:first]], len(hits)

    def _document(self, number: int, matched: list[str]) -> CoverageDocument:
        row = self.documents[number]
        return CoverageDocument(
            **fields_from(CoverageDocument, row, effective_date=row.effective, matched=matched, source=self.source)
        )


# ---- the Medicare Code Editor ---------------------------------------------------------------------

# What each edit means for a code on its list, in the MCE definitions' own words.
_EDIT_MESSAGES = {
    "AGE_CONFLICT": "Age conflict: the MCE lists this diagnosis for patients aged {low} through {high} only; "
    "with another age either the diagnosis or the age is presumed to be incorrect.",
    "MANIFESTATION_PDX": "Manifestation code: it describes the manifestation of an underlying disease, not "
    "the disease itself, and should not be used as a principal diagnosis.",
    "QUESTIONABLE_ADMISSION": "Questionable admission: not usually sufficient justification for admission "
    "to an acute care hospital when used as the principal diagnosis.",
    "UNACCEPTABLE_PDX": "Unacceptable principal diagnosis: it describes a circumstance that influences health "
    "status, not a current illness or injury.",
    "OUTCOME_OF_DELIVERY": "Outcome of delivery: reported as a secondary diagnosis, it keeps a cesarean or "
    "vaginal delivery procedure from being a questionable admission.",
    "QUESTIONABLE_OBSTETRIC_ADMISSION": "Questionable obstetric admission unless a secondary diagnosis "
    "describing the outcome of delivery is reported.",
    "NON_COVERED_PROCEDURE": "Non-covered procedure: Medicare does not provide payment for it ({title}).",
    "NON_COVERED_PROCEDURE_EXCEPTION": "With this diagnosis a pancreas transplant alone (0FYG0Z0, 0FYG0Z1) is "
    "not a non-covered procedure.",
    "NON_COVERED_PROCEDURE_DIAGNOSIS": "With this diagnosis, as principal or secondary, the autologous bone "
    "marrow and stem cell transfusions of MCE list 11D are non-covered.",
    "LIMITED_COVERAGE": "Limited coverage: Medicare limits coverage to a portion of the cost of this procedure.",
    "WRONG_PROCEDURE": "Wrong procedure performed: this external cause code indicates that the wrong "
    "procedure was performed.",
    "PROCEDURE_INCONSISTENT_WITH_LOS": "Should only be coded when the respiratory ventilation is provided "
    "for greater than four consecutive days during the length of stay.",
    "UNSPECIFIED_CODE": "Unspecified code: a more specific code identifies laterality (right, left, bilateral); "
    "in the inpatient setting laterality should generally be documented and reported.",
}
_EDIT_TITLES = {
    "4": "Age conflict",
    "6": "Manifestation code as principal diagnosis",
    "8": "Questionable admission",
    "9": "Unacceptable principal diagnosis",
    "11": "Non-covered procedure",
    "17": "Limited coverage",
    "18": "Wrong procedure performed",
    "19": "Procedure inconsistent with LOS",
    "20": "Unspecified code",
}


@dataclass(slots=True)
class CodeEditor:
    """The current MCE edition's lists, by code."""

    source: str
    by_code: dict[str, list[MceRow]] = field(default_factory=dict)

    @classmethod
    def build(cls, source: str, rows: list[MceRow]) -> CodeEditor:
        editor = cls(source=source)
        for row in rows:
            editor.by_code.setdefault(row.code, []).append(row)
        return editor

    def edits_for(self, key: str) -> list[CodeEdit]:
        return [self._edit(row) for row in self.by_code.get(key, [])]

    def _edit(self, row: MceRow) -> CodeEdit:
        age = mce_age_range(row.list_title) if row.edit == "AGE_CONFLICT" else None
        message = _EDIT_MESSAGES.get(row.edit, row.list_title)
        message = message.format(low=age[0] if age else "", high=age[1] if age else "", title=row.list_title)
        if row.edit == "NON_COVERED_PROCEDURE" and row.number == "11F":
            message = "Non-covered procedure when the beneficiary is over age 60 (MCE list 11F)."
        elif row.edit == "NON_COVERED_PROCEDURE" and row.number == "11G":
            message = (
                "Non-covered procedure only when Z30.2 (Encounter for sterilization) is the principal "
                "or a secondary diagnosis (MCE list 11G)."
            )
        elif row.edit == "NON_COVERED_PROCEDURE" and row.number == "11D":
            message = (
                "Non-covered procedure only when a diagnosis of MCE list 11D is the principal or a secondary diagnosis."
            )
        elif row.edit == "UNACCEPTABLE_PDX" and row.flag == "*":
            message += " It is acceptable when a secondary diagnosis is also coded (REQUIRES SECONDARY DX)."
        section = "".join(ch for ch in row.number if ch.isdigit())
        return CodeEdit(
            edit=row.edit,
            number=row.number,
            title=_EDIT_TITLES.get(section, row.list_title),
            message=f"{message} (MCE list {row.number}: {row.list_title})",
            age_range=age,
            source=self.source,
        )


# ---- claim check: coverage and code edits --------------------------------------------------------


def coverage_findings(claim: ClaimInput, ncds: LabNcdFacts | None, day: date) -> list[ClaimFinding]:
    """A lab line whose NCD no claim diagnosis supports is a COVERAGE finding (only when the
    claim gives diagnoses: without them nothing can be said)."""
    if ncds is None or not claim.diagnoses:
        return []
    diagnoses = list(dict.fromkeys(code_key(d) for d in claim.diagnoses))
    findings = []
    for number, line in enumerate(claim.lines, start=1):
        code = code_key(line.code)
        for ncd in ncds.ncds_of_procedure(code, day):
            verdicts = {dx: ncds.resolution(ncd, dx, day)[0] for dx in diagnoses}
            if any(v == NcdResolution.COVERED for v in verdicts.values()):
                continue
            said = "; ".join(
                f"{format_icd10cm(dx)} {_RESOLUTION_WORDS.get(v, 'is not listed')}" for dx, v in verdicts.items()
            )
            findings.append(
                ClaimFinding(
                    kind=FindingKind.COVERAGE,
                    codes=[code, *[format_icd10cm(dx) for dx in diagnoses]],
                    lines=[number],
                    message=(
                        f"{code} (line {number}) is not covered under lab NCD {ncd} {ncds.titles.get(ncd, '')}: "
                        f"no diagnosis of the claim supports medical necessity ({said})."
                    ),
                    source=ncds.source,
                )
            )
    return findings


def code_edit_findings(claim: ClaimInput, editor: CodeEditor | None) -> list[ClaimFinding]:
    """The MCE's diagnosis edits on the claim's diagnoses (the first is the principal)."""
    if editor is None or not claim.diagnoses:
        return []
    keys = [code_key(d) for d in claim.diagnoses]
    principal, printed = keys[0], [format_icd10cm(k) for k in keys]
    findings: list[ClaimFinding] = []

    def add(codes: list[str], message: str) -> None:
        findings.append(ClaimFinding(kind=FindingKind.CODE_EDIT, codes=codes, message=message, source=editor.source))

    if principal[:1] in "VWXY":
        add(
            [printed[0]],
            f"{printed[0]} is an external cause code: it describes the circumstance causing an "
            f"injury, not its nature, and should not be the principal diagnosis (MCE edit 2).",
        )
    for position, key in enumerate(keys):
        if key in keys[:position]:
            add(
                [printed[position]],
                f"{printed[position]} is given twice (MCE edit 3, duplicate of PDX)."
                if key == principal
                else f"{printed[position]} is given twice.",
            )
    for key in dict.fromkeys(keys):
        for row in editor.by_code.get(key, []):
            code = format_icd10cm(key)
            if row.edit == "AGE_CONFLICT" and claim.patient_age is not None:
                low, high = mce_age_range(row.list_title) or (0, 124)
                if not low <= claim.patient_age <= high:
                    add(
                        [code],
                        f"{code} conflicts with the patient's age {claim.patient_age}: the MCE lists it "
                        f"for ages {low} through {high} ({row.list_title}; MCE edit 4).",
                    )
            elif key == principal and row.edit == "MANIFESTATION_PDX":
                add(
                    [code],
                    f"{code} is a manifestation code and cannot be the principal diagnosis (MCE edit 6): "
                    f"code the underlying disease first.",
                )
            elif key == principal and row.edit == "UNACCEPTABLE_PDX":
                if row.flag == "*" and len(set(keys)) > 1:
                    continue
                add(
                    [code],
                    f"{code} is unacceptable as the principal diagnosis (MCE edit 9)"
                    + (": it requires a secondary diagnosis." if row.flag == "*" else "."),
                )
            elif key == principal and row.edit == "QUESTIONABLE_ADMISSION":
                add(
                    [code],
                    f"{code} as principal diagnosis is a questionable admission to an acute care "
                    f"hospital (MCE edit 8).",
                )
            elif row.edit == "WRONG_PROCEDURE":
                add([code], f"{code} indicates that the wrong procedure was performed (MCE edit 18).")
    return findings
