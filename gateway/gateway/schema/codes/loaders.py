"""Per-request DataLoaders: every `code` field of one request becomes ONE get_codes RPC, and
every rules section (ptpEdits, mue, crosswalks) of its pages ONE get_code_rules RPC."""

from __future__ import annotations

import re

from strawberry.dataloader import DataLoader

from medcode_contracts import codes as contract
from medcode_contracts import coding_rules
from medcode_contracts.rpc import Codes

from ...context import Context

_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")


CodeKey = tuple[str, str]  # (system, code as upper case without dots)


def code_key(system: str, code: str) -> CodeKey:
    """`k22.0`, `K220` and ` K22.0 ` are the same code: load it once."""
    return system, _NON_ALNUM.sub("", code).upper()


def code_pages(context: Context) -> DataLoader[CodeKey, contract.CodePage | None]:
    async def load(keys: list[CodeKey]) -> list[contract.CodePage | None]:
        request = contract.GetCodesRequest(refs=[contract.CodeRef(system=system, code=code) for system, code in keys])
        return await context.invoke(Codes.GET_CODES, request, op="code")

    return DataLoader(load_fn=load, max_batch_size=Codes.GET_CODES.max_batch_size)


def load_code_page(context: Context, system: str, code: str):
    return context.loader("code_pages", code_pages).load(code_key(system, code))


# ---- coding rules (code-page premium sections) ----------------------------------------------


def code_rules(context: Context) -> DataLoader[CodeKey, coding_rules.CodeRules]:
    """Every rules section of every code page of one request: ONE get_code_rules RPC. The
    RPC asks for as many PTP edits as the largest `ptpEdits(first:)` of the batch; each
    field keeps its own first ones (`load_code_rules`)."""
    ptp_first: dict[CodeKey, int] = {}  # filled by load_code_rules before each load

    async def load(keys: list[CodeKey]) -> list[coding_rules.CodeRules]:
        request = coding_rules.GetCodeRulesRequest(
            refs=[contract.CodeRef(system=system, code=code) for system, code in keys],
            ptp_first=max(ptp_first.get(key, 0) for key in keys),
        )
        return await context.invoke(Codes.GET_CODE_RULES, request, op="code")

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
