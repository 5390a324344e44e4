"""GraphQL types of code search and code pages, built from the codes service's contract
payloads (medcode_contracts.codes)."""
from __future__ import annotations

from datetime import date, datetime

import strawberry
from medcode_contracts import codes as contract
from medcode_contracts import coding_rules
from medcode_contracts.errors import BadRequest

from ..common import PageInfo
from ..enums import CodeSystem
from .loaders import load_code_rules


@strawberry.type
class CodeSummary:
    system: CodeSystem
    code: str
    title: str
    billable: bool

    @classmethod
    def from_contract(cls, summary: contract.CodeSummary) -> CodeSummary:
        return cls(system=CodeSystem(summary.system.value), code=summary.code,
                   title=summary.title, billable=summary.billable)


@strawberry.type
class CodeSearchEdge:
    cursor: str
    score: float
    highlight: str | None = strawberry.field(description=(
        "The title, HTML-escaped, with the words matched in <mark>; when the title lacks words "
        "typed, followed by ' — ' and the index term that matched with its index path in "
        "parentheses, e.g. 'Enlarged lymph nodes, unspecified — <mark>glands</mark> "
        "<mark>swollen</mark> (Swollen - see Swelling, glands)'."))
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
            edges=[CodeSearchEdge(cursor=hit.cursor, score=hit.score, highlight=hit.highlight,
                                  node=CodeSummary.from_contract(hit.node))
                   for hit in result.hits],
            page_info=PageInfo(has_next_page=result.has_next_page, end_cursor=result.end_cursor),
            facets=[SystemFacet(system=CodeSystem(f.system.value), count=f.count) for f in result.facets],
        )


@strawberry.type(description="remaining/limit null = unlimited")
class Access:
    granted: bool
    remaining: int | None = None
    limit: int | None = None
    reason: str | None = None


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
        return cls(
            inclusion_terms=notes.inclusion_terms, includes=notes.includes,
            excludes1=notes.excludes1, excludes2=notes.excludes2, code_first=notes.code_first,
            use_additional_code=notes.use_additional_code, code_also=notes.code_also,
            seventh_characters=[SeventhCharacter(character=s.character, meaning=s.meaning)
                                for s in notes.seventh_characters],
        )


# NCCI started on 1996-01-01: the last resort for an edit whose release states no date.
NCCI_START = date(1996, 1, 1)


@strawberry.type
class PtpEdit:
    column1: str
    column2: str
    modifier_indicator: int = strawberry.field(
        description="0 never separable, 1 separable with a modifier, 9 not applicable")
    effective_from: date = strawberry.field(description=(
        "The edit's effective date. Some CMS tables carry none (the full v30.2 tables lost the "
        "column): then it is the effective date of the release the edit comes from (the edit is "
        "in force at least since then) and effectiveFromExact is false."))
    effective_from_exact: bool = strawberry.field(
        description="True when effectiveFrom is the edit's own effective date from the CMS file.")
    deleted_on: date | None
    rationale: str | None
    setting: str = strawberry.field(description="practitioner or outpatient hospital")
    source: str = strawberry.field(description="Which edition of which CMS file holds the edit.")

    @classmethod
    def from_contract(cls, edit: coding_rules.PtpEdit) -> PtpEdit:
        return cls(column1=edit.column1, column2=edit.column2, modifier_indicator=edit.modifier_indicator,
                   effective_from=edit.effective_from or edit.edition_effective_from or NCCI_START,
                   effective_from_exact=edit.effective_from is not None, deleted_on=edit.deleted_on,
                   rationale=edit.rationale, setting=_setting_label(edit.setting), source=edit.source)


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
        return cls(setting=_setting_label(mue.setting), max_units=mue.max_units,
                   adjudication_indicator=mue.adjudication_indicator, rationale=mue.rationale,
                   source=mue.source)


@strawberry.type(description=(
    "A general equivalence mapping (GEM) between ICD-10-CM and ICD-9-CM. The other side is "
    "an ICD-9-CM code: `target.system` is ICD9CM (a crosswalk-only code system), and "
    "`targetSystem` / `targetCode` repeat it as plain strings."))
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
        return cls(kind=crosswalk.kind, approximate=crosswalk.approximate,
                   target=CodeSummary(system=system, code=target.code, title=title, billable=False),
                   target_system=target.system, target_code=target.code, no_map=crosswalk.no_map,
                   source=crosswalk.source)


@strawberry.type
class CodePage:
    system: CodeSystem
    code: str
    title: str = strawberry.field(description="Official long descriptor: always shown.")
    short_title: str | None
    billable: bool
    edition: Edition
    access: Access
    # Premium sections: null whenever access.granted is false.
    lay_terms: list[str] | None
    notes: CodeNotes | None
    parent: CodeSummary | None
    children: list[CodeSummary] | None

    # The rules sections come from one get_code_rules RPC per request (loaders.code_rules),
    # asked for only when a granted page selects them.
    @strawberry.field(description="NCCI PTP edits of the current editions where this code is "
                                  "column 1 or column 2 (active ones; at most `first`).")
    async def ptp_edits(self, info: strawberry.Info, first: int | None = 50) -> list[PtpEdit] | None:
        first = 50 if first is None else first
        if not 0 <= first <= coding_rules.MAX_PTP_PAGE:
            raise BadRequest(f"first must be between 0 and {coding_rules.MAX_PTP_PAGE} (got {first})")
        if not self.access.granted:
            return None
        rules = await load_code_rules(info.context, self.system.value, self.code, first)
        return [PtpEdit.from_contract(edit) for edit in rules.ptp_edits[:first]]

    @strawberry.field(description="Medically unlikely edits per setting (current editions).")
    async def mue(self, info: strawberry.Info) -> list[Mue] | None:
        if not self.access.granted:
            return None
        rules = await load_code_rules(info.context, self.system.value, self.code)
        return [Mue.from_contract(mue) for mue in rules.mue]

    @strawberry.field(description="ICD-10-CM / ICD-9-CM general equivalence mappings.")
    async def crosswalks(self, info: strawberry.Info) -> list[Crosswalk] | None:
        if not self.access.granted:
            return None
        rules = await load_code_rules(info.context, self.system.value, self.code)
        return [Crosswalk.from_contract(crosswalk) for crosswalk in rules.crosswalks]

    @strawberry.field(description="Why the page shows no official descriptor: a CPT code's "
                                  "descriptor needs an AMA CPT licence. Null otherwise.")
    async def descriptor_note(self, info: strawberry.Info) -> str | None:
        if self.system != CodeSystem.CPT:
            return None
        rules = await load_code_rules(info.context, self.system.value, self.code)
        return rules.descriptor_note

    @classmethod
    def from_contract(cls, page: contract.CodePage, access: Access) -> CodePage:
        premium = access.granted
        return cls(
            system=CodeSystem(page.system.value), code=page.code, title=page.title,
            short_title=page.short_title, billable=page.billable,
            edition=Edition.from_contract(page.edition), access=access,
            lay_terms=page.lay_terms if premium else None,
            notes=CodeNotes.from_contract(page.notes) if premium else None,
            parent=CodeSummary.from_contract(page.parent) if premium and page.parent else None,
            children=[CodeSummary.from_contract(c) for c in page.children] if premium else None,
        )
