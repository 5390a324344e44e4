"""GraphQL types of code search and code pages, built from the codes service's contract
payloads (medcode_contracts.codes)."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import cast

import strawberry
from cachetools import FIFOCache

from medcode_contracts import codes as contract
from medcode_contracts import coding_rules
from medcode_contracts.errors import BadRequest

from ..common import PageInfo, copy_fields
from ..enums import CodeSystem
from .access import Access, page_access, premium_field, resource_of
from .loaders import load_code_rules

__all__ = ["Access", "CodePage", "CodeSearchResult", "CodeSummary"]  # Access: claims shows it too


@strawberry.type
class CodeSummary:
    system: CodeSystem
    code: str
    title: str
    billable: bool

    @classmethod
    def from_contract(cls, summary: contract.CodeSummary) -> CodeSummary:
        # Fields written out rather than copied (copy_fields): a search or a code page makes
        # dozens of these, and this is a third of the cost.
        return cls(system=_SYSTEMS[summary.system], code=summary.code, title=summary.title, billable=summary.billable)


# The GraphQL CodeSystem of each contract one: a dict lookup instead of an enum call per code.
_SYSTEMS = {system: CodeSystem(system.value) for system in contract.CodeSystem}


@strawberry.type
class CodeSearchEdge:
    cursor: str
    score: float
    highlight: str | None = strawberry.field(
        description=(
            "The title, HTML-escaped, with the words matched in <mark>; when the title lacks words "
            "typed, followed by ' — ' and the index term that matched with its index path in "
            "parentheses, e.g. 'Enlarged lymph nodes, unspecified — <mark>glands</mark> "
            "<mark>swollen</mark> (Swollen - see Swelling, glands)'."
        )
    )
    node: CodeSummary


@strawberry.type
class SystemFacet:
    system: CodeSystem
    count: int


@strawberry.type
class CodeSearchResult:
    total_count: int
    edges: list[CodeSearchEdge]
    page_info: PageInfo
    facets: list[SystemFacet] = strawberry.field(description="Hits per code system for the same query.")

    @classmethod
    def from_contract(cls, result: contract.SearchResult) -> CodeSearchResult:
        return cls(
            total_count=result.total_count,
            edges=[
                CodeSearchEdge(
                    cursor=hit.cursor,
                    score=hit.score,
                    highlight=hit.highlight,
                    node=CodeSummary.from_contract(hit.node),
                )
                for hit in result.hits
            ],
            page_info=PageInfo(has_next_page=result.has_next_page, end_cursor=result.end_cursor),
            facets=[SystemFacet(system=_SYSTEMS[f.system], count=f.count) for f in result.facets],
        )


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return datetime.fromisoformat(value).date()


@strawberry.type
class Edition:
    name: str
    effective_from: date
    source: str

    @classmethod
    def from_contract(cls, edition: contract.Edition) -> Edition:
        return cls(name=edition.name, effective_from=_iso_date(edition.effective_from), source=edition.source)


@strawberry.type
class SeventhCharacter:
    character: str
    meaning: str


@strawberry.type
class CodeNotes:
    inclusion_terms: list[str]
    includes: list[str]
    excludes1: list[str]
    excludes2: list[str]
    code_first: list[str]
    use_additional_code: list[str]
    code_also: list[str]
    seventh_characters: list[SeventhCharacter]

    @classmethod
    def from_contract(cls, notes: contract.CodeNotes) -> CodeNotes:
        seventh_characters = [copy_fields(SeventhCharacter, s) for s in notes.seventh_characters]
        return copy_fields(cls, notes, seventh_characters=seventh_characters)


# NCCI started on 1996-01-01: the last resort for an edit whose release states no date.
NCCI_START = date(1996, 1, 1)


@strawberry.type
class PtpEdit:
    column1: str
    column2: str
    modifier_indicator: int = strawberry.field(
        description="0 never separable, 1 separable with a modifier, 9 not applicable"
    )
    effective_from: date = strawberry.field(
        description=(
            "The edit's effective date. Some CMS tables carry none (the full v30.2 tables lost the "
            "column): then it is the effective date of the release the edit comes from (the edit is "
            "in force at least since then) and effectiveFromExact is false."
        )
    )
    effective_from_exact: bool = strawberry.field(
        description="True when effectiveFrom is the edit's own effective date from the CMS file."
    )
    deleted_on: date | None
    rationale: str | None
    setting: str = strawberry.field(description="practitioner or outpatient hospital")
    source: str = strawberry.field(description="Which edition of which CMS file holds the edit.")

    @classmethod
    def from_contract(cls, edit: coding_rules.PtpEdit) -> PtpEdit:
        return copy_fields(
            cls,
            edit,
            effective_from=edit.effective_from or edit.edition_effective_from or NCCI_START,
            effective_from_exact=edit.effective_from is not None,
            setting=_setting_label(edit.setting),
        )


def _setting_label(setting: coding_rules.Setting) -> str:
    return setting.value.replace("_", " ")


@strawberry.type
class Mue:
    setting: str
    max_units: int
    adjudication_indicator: str
    rationale: str | None
    source: str = strawberry.field(description="Which edition of which CMS MUE file.")

    @classmethod
    def from_contract(cls, mue: coding_rules.Mue) -> Mue:
        return copy_fields(cls, mue, setting=_setting_label(mue.setting))


@strawberry.type(
    description=(
        "A general equivalence mapping (GEM) between ICD-10-CM and ICD-9-CM. The other side is "
        "an ICD-9-CM code: `target.system` is ICD9CM (a crosswalk-only code system), and "
        "`targetSystem` / `targetCode` repeat it as plain strings."
    )
)
class Crosswalk:
    kind: str = strawberry.field(description="GEM_I10_TO_I9 (forward GEM) or GEM_I9_TO_I10 (backward GEM).")
    target: CodeSummary
    approximate: bool
    target_system: str = strawberry.field(description="The target's code system: ICD9CM.")
    target_code: str = strawberry.field(description="The target code as printed (410.90), or NoDx.")
    no_map: bool
    source: str

    @classmethod
    def from_contract(cls, crosswalk: coding_rules.Crosswalk) -> Crosswalk:
        target = crosswalk.target
        title = target.title or f"{'ICD-9-CM' if target.system == 'ICD9CM' else target.system} {target.code}"
        system = CodeSystem(target.system)
        return copy_fields(
            cls,
            crosswalk,
            target=CodeSummary(system=system, code=target.code, title=title, billable=False),
            target_system=target.system,
            target_code=target.code,
        )


@strawberry.type(description="One sentence of a plain-language description and the official file it comes from.")
class DescriptionSentence:
    text: str
    source: str = strawberry.field(description="The official file (and part of it) the sentence was composed from.")


@strawberry.type(
    description=(
        "What the code means in plain words, composed only from official text (never invented): "
        "`text` is the paragraph, `sentences` the same sentences each with its source."
    )
)
class CodeDescription:
    text: str
    sentences: list[DescriptionSentence]

    @classmethod
    def from_contract(cls, sentences: list[contract.DescriptionSentence]) -> CodeDescription | None:
        if not sentences:
            return None
        return cls(
            text=" ".join(s.text for s in sentences),
            sentences=[DescriptionSentence(text=s.text, source=s.source) for s in sentences],
        )


@strawberry.enum(description="What a diagnosis is under a lab NCD (CMS's resolution codes 1, 2, 3).")
class NcdResolution(Enum):
    COVERED = "COVERED"
    DENIED = "DENIED"
    NOT_SUPPORTED = "NOT_SUPPORTED"


@strawberry.type
class NcdDiagnosis:
    code: str
    title: str | None
    resolution: NcdResolution
    effective_from: date | None
    term_date: date | None = strawberry.field(description="Last day the row applies; null = in force.")
    changed: bool = strawberry.field(description="Changed by this release (CMS's asterisk).")


@strawberry.type(description="A national coverage determination of the lab NCD edits (CMS).")
class LabNcd:
    number: str
    title: str
    procedure_codes: list[str] = strawberry.field(description="The CPT/HCPCS codes the NCD governs.")
    other_diagnoses: NcdResolution | None = strawberry.field(
        description="What every diagnosis the NCD does not list means for it."
    )
    resolution: NcdResolution | None = strawberry.field(
        description="On an ICD-10-CM page: what this diagnosis is under the NCD."
    )
    covered_count: int
    denied_count: int
    not_supported_count: int
    source: str
    _diagnoses: strawberry.Private[list[coding_rules.NcdDiagnosis]]

    @strawberry.field(
        description="On a procedure page: the NCD's listed diagnoses in force (at most `first` "
        "of each resolution), covered ones first."
    )
    def diagnoses(self, resolution: NcdResolution | None = None, first: int | None = 50) -> list[NcdDiagnosis]:
        first = 50 if first is None else first
        if not 0 <= first <= 50:
            raise BadRequest(f"first must be between 0 and 50 (got {first})")
        picked = [d for d in self._diagnoses if resolution is None or d.resolution.value == resolution.value]
        counts: dict[str, int] = {}
        shown = []
        for d in picked:
            counts[d.resolution.value] = counts.get(d.resolution.value, 0) + 1
            if counts[d.resolution.value] <= first:
                shown.append(
                    NcdDiagnosis(
                        code=d.code,
                        title=d.title,
                        resolution=NcdResolution(d.resolution.value),
                        effective_from=d.effective_from,
                        term_date=d.term_date,
                        changed=d.changed,
                    )
                )
        return shown

    @classmethod
    def from_contract(cls, ncd: coding_rules.LabNcd) -> LabNcd:
        def resolution(value):
            return NcdResolution(value.value) if value is not None else None

        return copy_fields(
            cls,
            ncd,
            other_diagnoses=resolution(ncd.other_diagnoses),
            resolution=resolution(ncd.resolution),
            covered_count=ncd.counts.get("COVERED", 0),
            denied_count=ncd.counts.get("DENIED", 0),
            not_supported_count=ncd.counts.get("NOT_SUPPORTED", 0),
            _diagnoses=ncd.diagnoses,
        )


@strawberry.type(
    description="An LCD or billing article of the Medicare Coverage Database whose title matches the code's subject."
)
class CoverageDocument:
    document_id: str = strawberry.field(description="L... (LCD) or A... (article).")
    document_type: str
    title: str
    contractor: str
    effective_date: date | None
    version: str | None
    url: str | None
    matched: list[str] = strawberry.field(description="The words of the code's subject the title shares.")
    source: str

    @classmethod
    def from_contract(cls, document: coding_rules.CoverageDocument) -> CoverageDocument:
        return copy_fields(cls, document)


@strawberry.type(description="Medicare coverage of a code: lab NCDs and local coverage documents.")
class MedicareCoverage:
    ncds: list[LabNcd]
    documents: list[CoverageDocument]
    documents_total: int = strawberry.field(description="Matching documents before the cut to `documents`.")

    @classmethod
    def from_contract(cls, coverage: coding_rules.Coverage) -> MedicareCoverage:
        return cls(
            ncds=[LabNcd.from_contract(n) for n in coverage.ncds],
            documents=[CoverageDocument.from_contract(d) for d in coverage.documents],
            documents_total=coverage.documents_total,
        )


@strawberry.type(description="A Medicare Code Editor (MCE) edit that applies to the code.")
class CodeEdit:
    edit: str = strawberry.field(description="AGE_CONFLICT, MANIFESTATION_PDX, UNACCEPTABLE_PDX, ...")
    number: str = strawberry.field(description="The MCE's number of the edit list, e.g. 4C, 6, 11D.")
    title: str
    message: str
    age_range: list[int] | None = strawberry.field(description="Age conflicts: the ages [from, to] it fits.")
    source: str

    @classmethod
    def from_contract(cls, edit: coding_rules.CodeEdit) -> CodeEdit:
        return copy_fields(cls, edit, age_range=list(edit.age_range) if edit.age_range else None)


def _check_ptp_first(first: int | None = 50) -> None:
    if first is not None and not 0 <= first <= coding_rules.MAX_PTP_PAGE:
        raise BadRequest(f"first must be between 0 and {coding_rules.MAX_PTP_PAGE} (got {first})")


@strawberry.type
class CodePage:
    system: CodeSystem
    code: str
    title: str = strawberry.field(description="Official long descriptor: always shown.")
    short_title: str | None
    billable: bool
    edition: Edition
    description: CodeDescription | None = strawberry.field(
        description=(
            "Plain-language description built only from official text, each sentence citing its file: "
            "shown to everyone, like the descriptor."
        )
    )
    contract_page: strawberry.Private[contract.CodePage]
    resource: strawberry.Private[str]  # the page's metered resource (access.resource_of)

    @strawberry.field(
        description="What the meter says about this page for the caller. Asking for it, or for "
        "any premium section, spends the page's view (once per request); the "
        "descriptor and the description alone spend nothing."
    )
    def access(self, info: strawberry.Info) -> Access:
        # The Access itself once the request has decided, else an awaitable graphql-core awaits.
        return cast(Access, page_access(info, self))

    # Premium sections (access.premium_field): null whenever access.granted is false.
    lay_terms: list[str] | None = premium_field()
    notes: CodeNotes | None = premium_field()
    parent: CodeSummary | None = premium_field()
    children: list[CodeSummary] | None = premium_field()

    # The rules sections come from one get_code_rules RPC per request (loaders.code_rules),
    # asked for only when a granted page selects them.
    @premium_field(
        description="NCCI PTP edits of the current editions where this code is "
        "column 1 or column 2 (active ones; at most `first`).",
        check_arguments=_check_ptp_first,
    )
    async def ptp_edits(self, info: strawberry.Info, first: int | None = 50) -> list[PtpEdit] | None:
        first = 50 if first is None else first
        rules = await load_code_rules(info.context, self.system.value, self.code, first)
        return [PtpEdit.from_contract(edit) for edit in rules.ptp_edits[:first]]

    @premium_field(description="Medically unlikely edits per setting (current editions).")
    async def mue(self, info: strawberry.Info) -> list[Mue] | None:
        rules = await load_code_rules(info.context, self.system.value, self.code)
        return [Mue.from_contract(mue) for mue in rules.mue]

    @premium_field(description="ICD-10-CM / ICD-9-CM general equivalence mappings.")
    async def crosswalks(self, info: strawberry.Info) -> list[Crosswalk] | None:
        rules = await load_code_rules(info.context, self.system.value, self.code)
        return [Crosswalk.from_contract(crosswalk) for crosswalk in rules.crosswalks]

    @premium_field(
        description="Medicare coverage: the lab NCDs that govern this procedure code or list "
        "this diagnosis, and the LCDs and billing articles whose titles match the "
        "code's subject."
    )
    async def coverage(self, info: strawberry.Info) -> MedicareCoverage | None:
        rules = await load_code_rules(info.context, self.system.value, self.code)
        return MedicareCoverage.from_contract(rules.coverage)

    @premium_field(description="Medicare Code Editor edits whose code lists hold this code.")
    async def code_edits(self, info: strawberry.Info) -> list[CodeEdit] | None:
        rules = await load_code_rules(info.context, self.system.value, self.code)
        return [CodeEdit.from_contract(edit) for edit in rules.code_edits]

    @strawberry.field(
        description="Why the page shows no official descriptor: a CPT code's "
        "descriptor needs an AMA CPT licence. Null otherwise."
    )
    async def descriptor_note(self, info: strawberry.Info) -> str | None:
        if self.system != CodeSystem.CPT:
            return None
        rules = await load_code_rules(info.context, self.system.value, self.code)
        return rules.descriptor_note

    @classmethod
    def from_contract(cls, page: contract.CodePage) -> CodePage:
        """The whole page: the premium sections are withheld field by field (premium_field).
        Built once per contract page (the edition cache hands out the same one to every
        request): it is only read, and what differs per request (its access) lives in the
        request's context."""
        built = _BUILT_PAGES.get(id(page))
        if built is not None and built.contract_page is page:  # it keeps `page` alive: the id is its own
            return built
        built = copy_fields(
            cls,
            page,
            system=CodeSystem(page.system.value),
            edition=Edition.from_contract(page.edition),
            description=CodeDescription.from_contract(page.description),
            contract_page=page,
            resource=resource_of(page),
            notes=CodeNotes.from_contract(page.notes),
            parent=CodeSummary.from_contract(page.parent) if page.parent else None,
            children=[CodeSummary.from_contract(c) for c in page.children],
        )
        _BUILT_PAGES[id(page)] = built
        return built


# CodePage.from_contract's pages, by id() of their contract page. As many as the edition
# cache holds by default; a page it dropped stays here until pushed out.
BUILT_PAGES_KEPT = 4096
_BUILT_PAGES: FIFOCache[int, CodePage] = FIFOCache(maxsize=BUILT_PAGES_KEPT)
