"""`searchCodes` and `code`."""

from __future__ import annotations

import contextlib

import strawberry

from medcode_contracts import codes as contract
from medcode_contracts.errors import BadRequest
from medcode_contracts.rpc import Codes

from ..enums import CodeSystem
from .access import asks_to_spend, prefetch_access
from .loaders import code_key, load_code_page
from .types import CodePage, CodeSearchResult

MAX_QUERY_LENGTH = 256
MAX_CURSOR_LENGTH = 512
MAX_CODE_LENGTH = 20


def validate_search(query: str, first: int | None, after: str | None) -> tuple[str, int, str | None]:
    """Check the arguments here, so a bad one costs no RPC and says what is wrong. (The
    cursor's inside is the codes service's business: it refuses one it cannot read.)"""
    query = query.strip()
    if not query:
        raise BadRequest("query must not be empty")
    if len(query) > MAX_QUERY_LENGTH:
        raise BadRequest(f"query is too long ({len(query)} characters; at most {MAX_QUERY_LENGTH})")
    first = 20 if first is None else first
    if not 1 <= first <= contract.MAX_PAGE_SIZE:
        raise BadRequest(f"first must be between 1 and {contract.MAX_PAGE_SIZE} (got {first})")
    if after is not None and (
        not after or len(after) > MAX_CURSOR_LENGTH or not after.isascii() or not after.isprintable() or " " in after
    ):
        raise BadRequest("after is not a valid cursor: pass pageInfo.endCursor of a previous page")
    return query, first, after


@strawberry.type
class CodesQuery:
    @strawberry.field(description="Search codes by code, code prefix, words, lay terms or abbreviations.")
    async def search_codes(
        self,
        info: strawberry.Info,
        query: str,
        systems: list[CodeSystem] | None = None,
        billable_only: bool | None = False,
        first: int | None = 20,
        after: str | None = None,
    ) -> CodeSearchResult:
        query, first, after = validate_search(query, first, after)
        if systems and CodeSystem.ICD9CM in systems:
            raise BadRequest("systems: ICD9CM cannot be searched; it appears only as a crosswalk target")
        request = contract.SearchRequest(
            query=query,
            systems=[contract.CodeSystem(s.value) for s in systems] if systems else None,
            billable_only=bool(billable_only),
            first=first,
            after=after,
        )
        context = info.context
        cache = context.caches.search if context.caches is not None else None
        key = request.model_dump_json()
        result = cache.get(key) if cache is not None else None
        if result is None:
            result = await context.invoke(Codes.SEARCH_CODES, request, op="searchCodes")
            if cache is not None:
                cache.put(key, result)
        return CodeSearchResult.from_contract(result)

    @strawberry.field(description="One code's page. Metered: see CodePage.access. Null when the code does not exist.")
    async def code(self, info: strawberry.Info, system: CodeSystem, code: str) -> CodePage | None:
        if not code_key(system.value, code)[1]:
            raise BadRequest("code must not be empty (letters and digits, e.g. K22.0)")
        if len(code) > MAX_CODE_LENGTH:
            raise BadRequest(f"code is too long ({len(code)} characters; at most {MAX_CODE_LENGTH})")
        if system is CodeSystem.ICD9CM:
            return None  # crosswalk targets only: no ICD-9-CM code pages exist
        context = info.context
        context.prefetch_account()  # the meter may need the caller: overlap the two RPCs
        loading = load_code_page(context, system.value, code)
        known = loading.result() if loading.done() else None
        deciding = None
        if known is not None and asks_to_spend(info):
            # A page the process holds, so it exists: meter it now, while the caller is checked.
            deciding = prefetch_access(context, CodePage.from_contract(known).resource)
        page = await loading
        if page is None:
            return None
        await context.account()  # a bad token is an error, whatever fields are asked for
        if deciding is not None:
            # Its fields wait for the decision anyway: waited for here, they read it at once
            # (an error too: each field that reads the decision reports it).
            with contextlib.suppress(Exception):
                await deciding
        # Nothing is spent here: CodePage.access and the premium sections spend the view.
        return CodePage.from_contract(page)
