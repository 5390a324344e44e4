"""Per-request DataLoaders: every `code` field of one request becomes ONE get_codes RPC, and
every rules section (ptpEdits, mue, crosswalks) of its pages ONE get_code_rules RPC, each
asking only for what the process's caches (gateway.edition_cache) do not hold: pages and
rules are the same for every caller until a new edition loads."""

from __future__ import annotations

import asyncio
import re
from functools import partial
from typing import Any, cast

from strawberry.dataloader import DataLoader

from medcode_contracts import codes as contract
from medcode_contracts import coding_rules
from medcode_contracts.rpc import Codes

from ...context import Context
from ...edition_cache import EditionCache

_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")


CodeKey = tuple[str, str]  # (system, code as upper case without dots)


def code_key(system: str, code: str) -> CodeKey:
    """`k22.0`, `K220` and ` K22.0 ` are the same code: load it once."""
    return system, _NON_ALNUM.sub("", code).upper()


_ABSENT: Any = object()


def _refs(keys: list[CodeKey]) -> list[contract.CodeRef]:
    return [contract.CodeRef(system=system, code=code) for system, code in keys]


def _cache(context: Context, attribute: str) -> EditionCache | None:
    return getattr(context.caches, attribute) if context.caches is not None else None


class CodePages(DataLoader[CodeKey, "contract.CodePage | None"]):
    """A page the process's cache holds is loaded at once (an answered future: awaiting it
    does not wait), the others in ONE get_codes RPC per round."""

    def __init__(self, context: Context):
        self.process_cache = _cache(context, "code_pages")
        cache = self.process_cache

        async def load(keys: list[CodeKey]) -> list[contract.CodePage | None]:
            epoch = cache.epoch if cache is not None else None
            pages = await context.invoke(Codes.GET_CODES, contract.GetCodesRequest(refs=_refs(keys)), op="code")
            if cache is not None:
                for key, page in zip(keys, pages):
                    cache.put(key, page, epoch)  # None too: "no such code" is as static as a page
            return pages

        super().__init__(load_fn=load, max_batch_size=Codes.GET_CODES.max_batch_size)

    def load(self, key: CodeKey) -> asyncio.Future[contract.CodePage | None]:
        cache = self.process_cache
        if cache is not None and self.cache_map.get(key) is None:  # the first ask of this request
            page = cache.get(key, _ABSENT)
            if page is not _ABSENT:
                self.prime(key, page)
        return cast(asyncio.Future, super().load(key))  # DataLoader.load's awaitable is a future


def load_code_page(context: Context, system: str, code: str) -> asyncio.Future[contract.CodePage | None]:
    """The page, or None when there is no such code: already answered when the process's
    cache holds it (so the code exists, or surely does not)."""
    loader = cast(CodePages, context.loader("code_pages", CodePages))
    return loader.load(code_key(system, code))


# ---- coding rules (code-page premium sections) ----------------------------------------------


RulesEntry = tuple[int, coding_rules.CodeRules]  # the cache's: (ptp_first asked, the reply)


def _holds_ptp_edits(entry: RulesEntry, wanted: int) -> bool:
    asked, rules = entry
    return asked >= wanted or len(rules.ptp_edits) >= rules.ptp_total  # enough, or every edit there is


def code_rules(context: Context) -> DataLoader[CodeKey, coding_rules.CodeRules]:
    """Every rules section of every code page of one request: ONE get_code_rules RPC (none
    when the cache holds them all). The RPC asks for as many PTP edits as the largest
    `ptpEdits(first:)` of the batch; each field keeps its own first ones (`load_code_rules`).
    A cached reply serves a request that wants no more PTP edits than it was asked for."""
    ptp_first: dict[CodeKey, int] = {}  # filled by load_code_rules before each load
    cache = _cache(context, "code_rules")

    async def load(keys: list[CodeKey]) -> list[coding_rules.CodeRules]:
        found: dict[CodeKey, coding_rules.CodeRules] = {}
        if cache is not None:
            for key in keys:
                entry = cache.get(key, usable=partial(_holds_ptp_edits, wanted=ptp_first.get(key, 0)))
                if entry is not None:
                    found[key] = entry[1]
        missing = [key for key in keys if key not in found]
        if missing:
            first = max(ptp_first.get(key, 0) for key in missing)
            epoch = cache.epoch if cache is not None else None
            request = coding_rules.GetCodeRulesRequest(refs=_refs(missing), ptp_first=first)
            replies = await context.invoke(Codes.GET_CODE_RULES, request, op="code")
            for key, rules in zip(missing, replies):
                found[key] = rules
                kept = cache.peek(key) if cache is not None else None
                if cache is not None and (kept is None or kept[0] <= first):  # never keep fewer edits than held
                    cache.put(key, (first, rules), epoch)
        return [found[key] for key in keys]

    loader = DataLoader(load_fn=load, max_batch_size=Codes.GET_CODE_RULES.max_batch_size)
    loader.ptp_first = ptp_first  # type: ignore[attr-defined]  # read by load_code_rules
    return loader


async def load_code_rules(context: Context, system: str, code: str, ptp_first: int = 0) -> coding_rules.CodeRules:
    """The rules of one code, with at least its first `ptp_first` PTP edits."""
    loader = context.loader("code_rules", code_rules)
    key = code_key(system, code)
    wanted: dict[CodeKey, int] = loader.ptp_first  # type: ignore[attr-defined]  # set by code_rules
    if ptp_first > wanted.get(key, 0):
        if key in wanted:  # loaded (or loading) with fewer edits: fetch again
            loader.clear(key)
        wanted[key] = ptp_first
    else:
        wanted.setdefault(key, 0)
    return await loader.load(key)
