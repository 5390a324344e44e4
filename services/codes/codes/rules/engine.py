"""The coding-rules facade the service's RPCs call: claim check, code-page sections and
modifiers, over the RulesStore, with a small in-process cache.

The cache holds what is small and read on every claim (current editions, MUE values,
which procedure codes exist); it is rebuilt when the set of current editions changes,
which is checked at most every `refresh_seconds`. PTP edits (millions of rows) stay in the
database; the edits of the procedure codes claims named lately are kept by column 1 code
in a bounded LRU, so a new claim of such codes needs no query. A claim's codes not kept
are looked up with one indexed query, then loaded into the LRU by warm_ptp (the service's
timer), off the claim's own time. No nameko here.
"""

from __future__ import annotations

import itertools
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from cachetools import LRUCache

from medcode_common.fields import fields_from
from medcode_contracts.codes import CodeRef, CodeSystem
from medcode_contracts.coding_rules import (
    CPT_LICENCE_NOTE,
    NCCI_ASSOCIATED_MODIFIERS,
    ClaimCheck,
    CodeRules,
    Coverage,
    Crosswalk,
    CrosswalkTarget,
    GetCodeRulesRequest,
    Modifier,
    Mue,
    PtpEdit,
    Setting,
)

from ..domain import code_key, format_icd9cm, format_icd10cm
from .claim_check import (
    CodeFact,
    EditFact,
    MueFact,
    RuleFacts,
    check_claim,
    claim_codes,
    edits_from_rows,
    in_force,
    parse_claim,
)
from .coverage import CodeEditor, DocumentIndex, LabNcdFacts
from .rows import CoverageDocumentRow, MceRow, NcdDiagnosisRow, NcdProcedureRow
from .storage import EditionRow, RulesStore, rule_codes, rule_coverage_documents, rule_mue, rule_ncd_procedures

# Diagnoses of each resolution shown per NCD on a procedure page.
NCD_DIAGNOSES_SHOWN = 50
COVERAGE_DOCUMENTS_SHOWN = 10

PTP_SETTINGS = (Setting.PRACTITIONER, Setting.OUTPATIENT_HOSPITAL)
# Claims' PTP lookups remembered per snapshot (the service: CODES_CLAIM_LOOKUPS_KEPT).
PAIR_LOOKUPS_KEPT = 1024
# PTP rows kept by column 1 code per snapshot, some 170 bytes each (the service:
# CODES_PTP_ROWS_KEPT): 20 k rows (some 100 codes; the table has 2.5 M rows over 12.8 k
# codes) are ~3.5 MB of the codes process's 150 MB.
PTP_ROWS_KEPT = 20_000
# Codes loaded into it per warm_ptp call: one costs ~0.5 ms of CPU (200 rows), during
# which an in-process SQLite blocks the process's other requests.
PTP_CODES_WARMED = 8
# Claim codes waiting for warm_ptp, at most.
PTP_CODES_PENDING = 4096

# (PTP edition id, setting, column 1 code)
Column1Key = tuple[int, str, str]


def _rows_kept(by_column2: dict[str, tuple[EditFact, ...]]) -> int:
    """An entry's size in the LRU: its rows, and one for the entry itself (a code without
    edits still costs its key)."""
    return 1 + sum(map(len, by_column2.values()))


@dataclass(slots=True)
class _Snapshot:
    key: tuple[int, ...]
    editions: dict[tuple[str, str | None], EditionRow]
    # Column1Key -> {column 2 code: its edits, in every date}; sized in rows (_rows_kept).
    column1: LRUCache
    # (PTP edition, setting, claim codes, date of service) -> its edits in force (CodingRules._edits_among)
    pairs: LRUCache
    mue: dict[str, dict[str, MueFact]] = field(default_factory=dict)  # setting -> code -> MUE
    codes: dict[str, list[CodeFact]] = field(default_factory=dict)  # code -> facts
    cpt_titles: dict[str, str] = field(default_factory=dict)
    ncd_procedures: list[NcdProcedureRow] = field(default_factory=list)
    # Claim codes whose column1 entry warm_ptp is to load, oldest first.
    pending: dict[Column1Key, None] = field(default_factory=dict)

    def edition(self, kind: str, setting: str | None = None) -> EditionRow | None:
        return self.editions.get((kind, setting))


class CodingRules:
    def __init__(
        self,
        store: RulesStore,
        refresh_seconds: float = 2.0,
        ptp_rows_kept: int = PTP_ROWS_KEPT,
        claim_lookups_kept: int = PAIR_LOOKUPS_KEPT,
    ):
        self.store = store
        self.refresh_seconds = refresh_seconds
        self.ptp_rows_kept = ptp_rows_kept
        self.claim_lookups_kept = claim_lookups_kept
        self._snapshot: _Snapshot | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self._document_index: tuple[int, DocumentIndex] | None = None

    # ---- cache ----------------------------------------------------------------------------
    def snapshot(self) -> _Snapshot:
        now = time.monotonic()
        snap = self._snapshot
        if snap is not None and now - self._checked_at < self.refresh_seconds:
            return snap
        with self._lock:
            editions = self.store.current_editions()
            key = tuple(sorted(e.id for e in editions))
            if self._snapshot is None or self._snapshot.key != key:
                self._snapshot = self._build(key, editions)
            self._checked_at = time.monotonic()
            return self._snapshot

    def _build(self, key: tuple[int, ...], editions: list[EditionRow]) -> _Snapshot:
        snap = _Snapshot(
            key=key,
            editions={(e.kind, e.setting): e for e in editions},
            column1=LRUCache(maxsize=self.ptp_rows_kept, getsizeof=_rows_kept),
            pairs=LRUCache(maxsize=self.claim_lookups_kept),
        )
        # Facts are frozen and most are alike (a few hundred distinct among 100 k): one shared
        # object each keeps the snapshot small in every codes process.
        shared: dict = {}

        def one(fact):
            return shared.setdefault(fact, fact)

        for setting in Setting:
            edition = snap.edition("MUE", setting.value)
            if edition is not None:
                snap.mue[setting.value] = {
                    r.code: one(MueFact(r.max_units, r.adjudication_indicator, r.rationale))
                    for r in self.store.each_row_of_editions(rule_mue, [edition.id])
                }
        labels = {e.id: e.label for e in editions if e.kind in ("PTP", "MUE", "HCPCS", "CPT")}
        for row in self.store.each_row_of_editions(rule_codes, list(labels)):
            snap.codes.setdefault(row.code, []).append(one(CodeFact(row.last_day, labels[row.edition_id])))
            if row.system == "CPT" and row.title:
                snap.cpt_titles[row.code] = row.title
        self._build_coverage(snap)
        return snap

    def _build_coverage(self, snap: _Snapshot) -> None:
        """The lab NCDs' procedure codes (60 rows) stay in memory; their diagnosis rows (66 k)
        and the MCE lists (10 k) are read per request by code, through their indexes."""
        if (ncd := snap.edition("NCD")) is not None:
            snap.ncd_procedures = [
                NcdProcedureRow(r.ncd, r.title, r.code, r.effective_from, r.term_date)
                for r in self.store.rows_of_edition(rule_ncd_procedures, ncd.id)
            ]

    def _ncds(self, snap: _Snapshot, ncds: list[str] | None, codes: list[str] | None) -> LabNcdFacts | None:
        """The NCD facts for these NCDs and diagnosis codes (see RulesStore.ncd_diagnosis_rows)."""
        edition = snap.edition("NCD")
        if edition is None:
            return None
        rows = (
            [
                NcdDiagnosisRow(r.ncd, r.code, r.effective_from, r.term_date, r.resolution, r.changed)
                for r in self.store.ncd_diagnosis_rows(edition.id, ncds, codes)
            ]
            if ncds != []
            else []
        )
        return LabNcdFacts.build(edition.label, snap.ncd_procedures, rows)

    def _editor(self, snap: _Snapshot, codes: list[str]) -> CodeEditor | None:
        edition = snap.edition("MCE")
        if edition is None:
            return None
        return CodeEditor.build(
            edition.label,
            [
                MceRow(r.edit, r.number, r.list_title, r.code, r.code_system, r.flag)
                for r in self.store.mce_rows(edition.id, codes)
            ],
        )

    def _documents(self, snap: _Snapshot) -> DocumentIndex | None:
        """The MCD index's titles by word, built on first use per MCD edition (3 k titles)."""
        edition = snap.edition("MCD")
        if edition is None:
            return None
        with self._lock:
            if self._document_index is None or self._document_index[0] != edition.id:
                rows = [
                    CoverageDocumentRow(
                        r.document_id, r.document_type, r.title, r.contractor, r.effective_date, r.version, r.url
                    )
                    for r in self.store.rows_of_edition(rule_coverage_documents, edition.id)
                ]
                self._document_index = (edition.id, DocumentIndex(edition.label, rows))
            return self._document_index[1]

    def cache_usage(self) -> dict[str, dict]:
        """How full each of this cache's bounded parts is (the codes service's cache_usage)."""
        snap = self._snapshot
        if snap is None:
            return {}
        return {
            "ptp_rows": {"entries": int(snap.column1.currsize), "bound": int(snap.column1.maxsize), "unit": "rows"},
            "claim_lookups": {"entries": len(snap.pairs), "bound": int(snap.pairs.maxsize)},
            "ptp_codes_pending": {"entries": len(snap.pending), "bound": PTP_CODES_PENDING},
        }

    # ---- claim check ----------------------------------------------------------------------
    def check_claim(self, payload, today: date | None = None) -> ClaimCheck:
        claim = parse_claim(payload)
        snap = self.snapshot()
        setting = claim.setting.value
        codes = claim_codes(claim)
        facts = RuleFacts(codes={c: snap.codes[c] for c in codes if c in snap.codes})
        ptp = snap.edition("PTP", setting)
        if ptp is not None:
            facts.ptp_source = ptp.label
            # Only the edits in force on the date of service are fetched (check_claim's rule).
            on = claim.date_of_service or today or date.today()
            facts.edits = self._edits_among(snap, ptp.id, setting, codes, on)
        mue = snap.edition("MUE", setting)
        if mue is not None:
            facts.mue_source = mue.label
            facts.mue = snap.mue.get(setting, {})
        if claim.diagnoses:
            diagnoses = [code_key(d) for d in claim.diagnoses]
            lab_ncds = sorted({r.ncd for r in snap.ncd_procedures if r.code in codes})
            facts.ncds = self._ncds(snap, lab_ncds, diagnoses)
            facts.editor = self._editor(snap, diagnoses)
        return check_claim(claim, facts, today=today)

    def _edits_among(self, snap: _Snapshot, edition_id: int, setting: str, codes: list[str], on: date) -> list:
        """The edits in force on `on` among `codes`, remembered per snapshot: an edition's rows
        never change, and an office bills the same few code sets all day, so a repeat claim
        skips even the column 1 lookups."""
        key = (edition_id, setting, tuple(codes), on)
        with self._lock:
            edits = snap.pairs.get(key)
        if edits is None:
            edits = self._edits_in_force(snap, edition_id, setting, codes, on)
            with self._lock:
                snap.pairs[key] = edits
        return edits

    def _edits_in_force(self, snap: _Snapshot, edition_id: int, setting: str, codes: list[str], on: date) -> list:
        """Each pair's edits, both directions, are those of its two codes as column 1: from
        the LRU for the codes it keeps, from one indexed query for the others (queued for
        warm_ptp). The dates are applied as the query applies them (claim_check.in_force)."""
        # A code no loaded file names is in no PTP row either (the PTP load lists its codes).
        named = [c for c in codes if c in snap.codes]
        if len(named) < 2:
            return []
        kept, missing = [], []
        with self._lock:
            for code in named:
                by_column2 = snap.column1.get((edition_id, setting, code))
                if by_column2 is None:
                    missing.append(code)
                else:
                    kept.append(by_column2)
        edits = [
            edit for by_column2 in kept for second in named for edit in by_column2.get(second, ()) if in_force(edit, on)
        ]
        if missing:
            edits += edits_from_rows(self.store.ptp_for_pairs(edition_id, setting, named, on=on, column1=missing))
            with self._lock:
                for code in missing:
                    if len(snap.pending) >= PTP_CODES_PENDING:
                        break
                    snap.pending[(edition_id, setting, code)] = None
        return edits

    def warm_ptp(self, limit: int = PTP_CODES_WARMED) -> int:
        """Load the edits of up to `limit` claim codes waiting for it into the LRU (one query
        per PTP edition); the service calls this from a timer, not in a claim's time.
        Returns how many codes were loaded."""
        snap = self.snapshot()
        with self._lock:
            keys = list(itertools.islice(snap.pending, limit))
            for key in keys:
                del snap.pending[key]
        wanted: dict[tuple[int, str], list[str]] = {}
        for edition_id, setting, code in keys:
            wanted.setdefault((edition_id, setting), []).append(code)
        for (edition_id, setting), codes in wanted.items():
            loaded: dict[str, dict[str, tuple[EditFact, ...]]] = {code: {} for code in codes}
            for edit in edits_from_rows(self._shared_rows(self.store.ptp_of_column1(edition_id, setting, codes))):
                by_column2 = loaded[edit.column1]
                by_column2[edit.column2] = (*by_column2.get(edit.column2, ()), edit)
            with self._lock:
                for code, by_column2 in loaded.items():
                    if _rows_kept(by_column2) <= snap.column1.maxsize:  # else never kept: always queried
                        snap.column1[(edition_id, setting, code)] = by_column2
        return len(keys)

    @staticmethod
    def _shared_rows(rows: list[tuple]) -> Iterator[tuple]:
        """The rows with one object per distinct code, rationale (a dozen) and date (a few
        hundred): a code is in thousands of rows, and a new object per row and field would
        double an entry's size."""
        intern, dates = sys.intern, {None: None}
        for c1, c2, effective, deleted, indicator, rationale in rows:
            effective, deleted = dates.setdefault(effective, effective), dates.setdefault(deleted, deleted)
            yield intern(c1), intern(c2), effective, deleted, indicator, rationale and intern(rationale)

    # ---- code page sections ---------------------------------------------------------------
    def get_code_rules(self, request: GetCodeRulesRequest) -> list[CodeRules]:
        snap = self.snapshot()
        return [self._code_rules(snap, ref, request) for ref in request.refs]

    def _code_rules(self, snap: _Snapshot, ref: CodeRef, request: GetCodeRulesRequest) -> CodeRules:
        key = code_key(ref.code)
        if ref.system in (CodeSystem.CPT, CodeSystem.HCPCS):
            return self._procedure_rules(snap, ref.system, key, request)
        if ref.system == CodeSystem.ICD10CM:
            return self._diagnosis_rules(snap, key)
        if ref.system == CodeSystem.ICD10PCS:
            coverage = Coverage()
            self._add_documents(snap, coverage, self.store.code_set_titles(ref.system.value, [key]).get(key))
            editor = self._editor(snap, [key])
            edits = editor.edits_for(key) if editor else []
            return CodeRules(system=ref.system, code=key, known=bool(edits), coverage=coverage, code_edits=edits)
        return CodeRules(system=ref.system, code=ref.code.strip().upper(), known=False)

    def _procedure_rules(
        self, snap: _Snapshot, system: CodeSystem, key: str, request: GetCodeRulesRequest
    ) -> CodeRules:
        edits: list[PtpEdit] = []
        total = 0
        for setting in PTP_SETTINGS:
            edition = snap.edition("PTP", setting.value)
            if edition is None:
                continue
            rows, count = self.store.ptp_for_code(
                edition.id, setting.value, key, request.ptp_first, request.include_deleted_ptp
            )
            total += count
            released = edition_effective_from(edition.name)
            edits.extend(
                PtpEdit(
                    column1=r.column1,
                    column2=r.column2,
                    modifier_indicator=r.modifier_indicator,
                    effective_from=r.effective_from,
                    edition_effective_from=released,
                    deleted_on=r.deleted_on,
                    rationale=r.rationale,
                    setting=setting,
                    source=edition.label,
                )
                for r in rows
            )
        mue = []
        for setting in Setting:
            mue_edition = snap.edition("MUE", setting.value)
            fact = snap.mue.get(setting.value, {}).get(key)
            if mue_edition is not None and fact is not None:  # facts are only read for a loaded edition
                mue.append(
                    Mue(
                        setting=setting,
                        max_units=fact.max_units,
                        adjudication_indicator=fact.adjudication_indicator,
                        rationale=fact.rationale,
                        source=mue_edition.label,
                    )
                )
        descriptor = snap.cpt_titles.get(key) if system == CodeSystem.CPT else None
        note = CPT_LICENCE_NOTE if system == CodeSystem.CPT and descriptor is None else None
        return CodeRules(
            system=system,
            code=key,
            known=key in snap.codes,
            descriptor=descriptor,
            descriptor_note=note,
            ptp_edits=edits[: request.ptp_first],
            ptp_total=total,
            mue=mue,
            coverage=self._procedure_coverage(snap, system, key, descriptor),
        )

    def _procedure_coverage(self, snap: _Snapshot, system: CodeSystem, key: str, descriptor: str | None) -> Coverage:
        today = date.today()
        coverage = Coverage()
        subject = descriptor
        governing = sorted({r.ncd for r in snap.ncd_procedures if r.code == key})
        edition = snap.edition("NCD")
        if governing and edition is not None:
            rows, counts = [], {}
            for ncd in governing:
                found, counts[ncd] = self.store.ncd_page_rows(edition.id, ncd, today, NCD_DIAGNOSES_SHOWN)
                rows += [
                    NcdDiagnosisRow(r.ncd, r.code, r.effective_from, r.term_date, r.resolution, r.changed)
                    for r in found
                ]
            ncds = LabNcdFacts.build(edition.label, snap.ncd_procedures, rows)
            shown = ncds.shown_diagnoses(key, today, NCD_DIAGNOSES_SHOWN)
            titles = self.store.code_set_titles(CodeSystem.ICD10CM.value, shown)
            coverage.ncds = ncds.procedure_ncds(key, today, NCD_DIAGNOSES_SHOWN, titles, counts)
        if system == CodeSystem.HCPCS:
            subject = self.store.code_set_titles(CodeSystem.HCPCS.value, [key]).get(key)
        if subject is None and coverage.ncds:
            # A CPT number without a licensed descriptor: its NCDs name its subject.
            subject = " ".join(n.title for n in coverage.ncds)
        self._add_documents(snap, coverage, subject)
        return coverage

    def _add_documents(self, snap: _Snapshot, coverage: Coverage, subject: str | None) -> None:
        if not subject:
            return
        documents = self._documents(snap)
        if documents is not None:
            coverage.documents, coverage.documents_total = documents.matching(subject, COVERAGE_DOCUMENTS_SHOWN)

    def _diagnosis_rules(self, snap: _Snapshot, key: str) -> CodeRules:
        crosswalks = []
        gem = snap.edition("GEM")
        if gem is not None:
            rows = self.store.crosswalks_for([gem.id], key)
            icd9 = snap.edition("ICD9CM")
            others = [r.target_code if r.kind == "GEM_I10_TO_I9" else r.source_code for r in rows]
            titles = self.store.titles_for(icd9.id, [o for o, r in zip(others, rows) if not r.no_map]) if icd9 else {}
            for r, other in zip(rows, others):
                if r.no_map:
                    target = CrosswalkTarget(system="ICD9CM", code=other, title="No ICD-9-CM equivalent")
                else:
                    target = CrosswalkTarget(system="ICD9CM", code=format_icd9cm(other), title=titles.get(other))
                crosswalks.append(Crosswalk(**fields_from(Crosswalk, r, target=target, source=gem.label)))
        index = snap.edition("INDEX")
        terms = self.store.lay_terms_for([index.id], [key]).get(key, []) if index else []
        coverage = Coverage()
        ncds = self._ncds(snap, None, [key])
        if ncds is not None:
            coverage.ncds = ncds.diagnosis_ncds(key, date.today())
        self._add_documents(snap, coverage, self.store.code_set_titles(CodeSystem.ICD10CM.value, [key]).get(key))
        editor = self._editor(snap, [key])
        edits = editor.edits_for(key) if editor else []
        return CodeRules(
            system=CodeSystem.ICD10CM,
            code=format_icd10cm(key),
            known=bool(crosswalks or terms or edits),
            crosswalks=crosswalks,
            lay_terms=terms,
            coverage=coverage,
            code_edits=edits,
        )

    def add_lay_terms(self, pages: list) -> None:
        """Add the ICD-10-CM index terms that point to each ICD-10-CM page's code to its
        `lay_terms` (contracts.codes.CodePage objects; None entries are skipped)."""
        index = self.snapshot().edition("INDEX")
        wanted = [p for p in pages if p is not None and p.system == CodeSystem.ICD10CM]
        if index is None or not wanted:
            return
        found = self.store.lay_terms_for([index.id], [code_key(p.code) for p in wanted])
        for page in wanted:
            terms = found.get(code_key(page.code), [])
            seen = {t.lower() for t in page.lay_terms}
            page.lay_terms = list(page.lay_terms) + [t for t in terms if t.lower() not in seen]

    # ---- modifiers ------------------------------------------------------------------------
    def _modifier_editions(self, snap: _Snapshot) -> dict[int, EditionRow]:
        return {e.id: e for e in (snap.edition("MODIFIERS"), snap.edition("CPT")) if e is not None}

    def list_modifiers(self) -> list[Modifier]:
        snap = self.snapshot()
        editions = self._modifier_editions(snap)
        found = {(r.code, r.system): self._modifier(r, editions) for r in self.store.modifiers(list(editions))}
        # NCCI's numeric modifiers are CPT's: listed even without a licence, without descriptor.
        for code in sorted(m for m in NCCI_ASSOCIATED_MODIFIERS if m.isdigit()):
            if not any(c == code for c, _ in found):
                found[(code, "CPT")] = _unlicensed_cpt_modifier(code)
        return sorted(found.values(), key=lambda m: (m.code, m.system.value))

    def get_modifier(self, code: str) -> Modifier | None:
        code = code.strip().upper()
        snap = self.snapshot()
        editions = self._modifier_editions(snap)
        rows = self.store.modifiers(list(editions), code)
        if rows:
            return self._modifier(rows[0], editions)
        if code in NCCI_ASSOCIATED_MODIFIERS and code.isdigit():
            return _unlicensed_cpt_modifier(code)
        return None

    @staticmethod
    def _modifier(row, editions: dict[int, EditionRow]) -> Modifier:
        return Modifier(
            code=row.code,
            title=row.title,
            description=row.description,
            system=CodeSystem(row.system),
            ncci_associated=row.code in NCCI_ASSOCIATED_MODIFIERS,
            terminated_on=row.terminated_on,
            source=editions[row.edition_id].label,
        )


def edition_effective_from(name: str) -> date | None:
    """The effective date a rule edition's name states: "effective 2026-04-01", or a quarter
    "(2024 Q3; ...)" -> its first day (CMS quarterly releases take effect then)."""
    if m := re.search(r"(\d{4})-(\d\d)-(\d\d)", name):
        return date(int(m[1]), int(m[2]), int(m[3]))
    if m := re.search(r"(\d{4}) Q([1-4])", name):
        return date(int(m[1]), 3 * int(m[2]) - 2, 1)
    return None


def _unlicensed_cpt_modifier(code: str) -> Modifier:
    return Modifier(
        code=code,
        title=f"CPT modifier {code}",
        description=CPT_LICENCE_NOTE,
        system=CodeSystem.CPT,
        ncci_associated=code in NCCI_ASSOCIATED_MODIFIERS,
        source="NCCI PTP-associated modifier list (NCCI Policy Manual)",
    )
