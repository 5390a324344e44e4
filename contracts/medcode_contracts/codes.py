"""Contract of the `codes` service: code sets, search and code pages."""

from __future__ import annotations

import re
from enum import Enum

from pydantic import Field

from .common import ItemError, Model

SERVICE = "codes"


class Rpc:
    HEALTH = "health"
    SEARCH_CODES = "search_codes"  # SearchRequest -> SearchResult
    # SearchManyRequest -> list[SearchOutcome], in request order: several clients' searches
    # in one call (the gateway coalesces concurrent ones), each answered on its own
    SEARCH_CODES_MANY = "search_codes_many"
    GET_CODES = "get_codes"  # GetCodesRequest -> list[CodePage | None], in request order
    LIST_EDITIONS = "list_editions"  # -> list[EditionInfo]
    # -> {cache: {"entries": int, "bound": int, "unit"?: str}}: how full each in-process
    # cache of this codes process is (operators and `make bench`; not for the gateway)
    CACHE_USAGE = "cache_usage"


class Events:
    EDITION_LOADED = "edition_loaded"


class CodeSystem(str, Enum):
    ICD10CM = "ICD10CM"
    ICD10PCS = "ICD10PCS"
    HCPCS = "HCPCS"
    CPT = "CPT"
    MODIFIER = "MODIFIER"


MAX_PAGE_SIZE = 100

_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")


def code_key(code: str) -> str:
    """The normalised form codes are stored and matched by: upper case, no dot or space.
    `k22.0`, `K220` and ` K22.0 ` all give `K220`."""
    return _NOT_ALNUM.sub("", code).upper()


def canonical_code(system: CodeSystem | str, code: str) -> str:
    """The code as the code book prints it, from any spelling a caller types: ICD-10-CM
    puts a dot after the category's three characters (`k220` -> `K22.0`, `S72001A` ->
    `S72.001A`); the other systems print the key as it is (`j9035` -> `J9035`). The codes
    service prints every stored code this way, so a caller can name a page (e.g. the
    metered resource of a view) before the codes service has answered."""
    key = code_key(code)
    if CodeSystem(system) is CodeSystem.ICD10CM and len(key) > 3:
        return f"{key[:3]}.{key[3:]}"
    return key


class SearchRequest(Model):
    query: str
    systems: list[CodeSystem] | None = None
    billable_only: bool = False
    first: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)
    after: str | None = None  # opaque cursor from a previous SearchResult


class CodeSummary(Model):
    system: CodeSystem
    code: str  # as printed in the code book: "K22.0", "J9035", "0DB64ZZ"
    title: str
    billable: bool


class SearchHit(Model):
    cursor: str
    score: float
    highlight: str | None = None  # title with matched words wrapped in <mark>…</mark>
    node: CodeSummary


class SystemFacet(Model):
    system: CodeSystem
    count: int


class SearchResult(Model):
    total_count: int
    hits: list[SearchHit]
    has_next_page: bool
    end_cursor: str | None = None
    facets: list[SystemFacet]


# Searches one search_codes_many call carries at most: a call answers them one after the
# other, so a larger batch would hold its first searches' answers too long.
MAX_SEARCHES_PER_CALL = 16


class SearchManyRequest(Model):
    searches: list[SearchRequest] = Field(min_length=1, max_length=MAX_SEARCHES_PER_CALL)


class SearchOutcome(Model):
    """One search of a SearchManyRequest: its result, or the error search_codes would have
    raised for it alone (a cursor it cannot read, ...), which fails no other search."""

    result: SearchResult | None = None
    error: ItemError | None = None


class CodeRef(Model):
    system: CodeSystem
    code: str  # any case, with or without the dot


class GetCodesRequest(Model):
    refs: list[CodeRef] = Field(max_length=200)


class Edition(Model):
    name: str
    effective_from: str  # ISO date
    source: str  # source file name (and URL where known)


class EditionInfo(Edition):
    system: CodeSystem
    loaded_at: str
    counts: dict[str, int] = {}


class SeventhCharacter(Model):
    character: str
    meaning: str


class CodeNotes(Model):
    inclusion_terms: list[str] = []
    includes: list[str] = []
    excludes1: list[str] = []
    excludes2: list[str] = []
    code_first: list[str] = []
    use_additional_code: list[str] = []
    code_also: list[str] = []
    seventh_characters: list[SeventhCharacter] = []


class DescriptionSentence(Model):
    """One sentence of a code's plain-language description, and the official file it
    was composed from (never invented text)."""

    text: str
    source: str


class CodePage(Model):
    system: CodeSystem
    code: str
    title: str
    short_title: str | None = None
    billable: bool
    edition: Edition
    lay_terms: list[str] = []
    notes: CodeNotes = CodeNotes()
    parent: CodeSummary | None = None
    children: list[CodeSummary] = []
    # Plain-language description, shown to everyone like the descriptor (codes.description).
    description: list[DescriptionSentence] = []
