"""GraphQL types of code search and code pages, built from the codes service's contract
payloads (medcode_contracts.codes)."""
from __future__ import annotations

from datetime import date, datetime

import strawberry
from medcode_contracts import codes as contract

from ..common import PageInfo
from ..enums import CodeSystem
from ..errors import not_implemented


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
    highlight: str | None
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


@strawberry.type
class PtpEdit:
    column1: str
    column2: str
    modifier_indicator: int = strawberry.field(
        description="0 never separable, 1 separable with a modifier, 9 not applicable")
    effective_from: date
    deleted_on: date | None
    rationale: str | None
    setting: str = strawberry.field(description="practitioner or outpatient hospital")


@strawberry.type
class Mue:
    setting: str
    max_units: int
    adjudication_indicator: str
    rationale: str | None


@strawberry.type
class Crosswalk:
    kind: str
    target: CodeSummary
    approximate: bool


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

    @strawberry.field
    def ptp_edits(self, first: int | None = 50) -> list[PtpEdit] | None:
        raise not_implemented("CodePage.ptpEdits")

    @strawberry.field
    def mue(self) -> list[Mue] | None:
        raise not_implemented("CodePage.mue")

    @strawberry.field
    def crosswalks(self) -> list[Crosswalk] | None:
        raise not_implemented("CodePage.crosswalks")

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
