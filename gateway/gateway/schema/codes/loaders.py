"""Per-request DataLoaders: every `code` field of one request becomes ONE get_codes RPC, and
every rules section (ptpEdits, mue, crosswalks) of its pages ONE get_code_rules RPC."""
from __future__ import annotations

import re

from medcode_contracts import codes as contract
from medcode_contracts import coding_rules
from strawberry.dataloader import DataLoader

from ...context import Context

_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")

MAX_REFS_PER_CALL = 200  # contracts.codes.GetCodesRequest.refs max_length

CodeKey = tuple[str, str]  # (system, code as upper case without dots)


def code_key(system: str, code: str) -> CodeKey:
    """`k22.0`, `K220` and ` K22.0 ` are the same code: load it once."""
    return system, _NON_ALNUM.sub("", code).upper()


def code_pages(context: Context) -> DataLoader[CodeKey, contract.CodePage | None]:
    async def load(keys: list[CodeKey]) -> list[contract.CodePage | None]:
        request = contract.GetCodesRequest(
            refs=[contract.CodeRef(system=system, code=code) for system, code in keys])
        pages = await context.rpc.call(contract.SERVICE, contract.Rpc.GET_CODES,
                                       request=request.model_dump(mode="json"),
                                       timeout=context.rpc_timeout, op="code")
        if not isinstance(pages, list) or len(pages) != len(keys):
            raise RuntimeError(f"get_codes answered {len(pages or [])} pages for {len(keys)} refs")
        return [contract.CodePage.model_validate(page) if page else None for page in pages]

    return DataLoader(load_fn=load, max_batch_size=MAX_REFS_PER_CALL)


def load_code_page(context: Context, system: str, code: str):
    return context.loader("code_pages", code_pages).load(code_key(system, code))


# ---- coding rules (code-page premium sections) ----------------------------------------------

def code_rules(context: Context) -> DataLoader[CodeKey, coding_rules.CodeRules]:
    """Every rules section of every code page of one request: ONE get_code_rules RPC. The
    RPC asks for as many PTP edits as the largest `ptpEdits(first:)` of the batch; each
    field keeps its own first ones (`load_code_rules`)."""
    ptp_first: dict[CodeKey, int] = {}   # filled by load_code_rules before each load

    async def load(keys: list[CodeKey]) -> list[coding_rules.CodeRules]:
        request = coding_rules.GetCodeRulesRequest(
            refs=[contract.CodeRef(system=system, code=code) for system, code in keys],
            ptp_first=max(ptp_first.get(key, 0) for key in keys))
        answers = await context.rpc.call(contract.SERVICE, coding_rules.Rpc.GET_CODE_RULES,
                                         request=request.model_dump(mode="json"),
                                         timeout=context.rpc_timeout, op="code")
        if not isinstance(answers, list) or len(answers) != len(keys):
            raise RuntimeError(f"get_code_rules answered {len(answers or [])} items for {len(keys)} refs")
        return [coding_rules.CodeRules.model_validate(answer) for answer in answers]

    loader = DataLoader(load_fn=load, max_batch_size=MAX_REFS_PER_CALL)
    loader.ptp_first = ptp_first
    return loader


async def load_code_rules(context: Context, system: str, code: str,
                          ptp_first: int = 0) -> coding_rules.CodeRules:
    """The rules of one code, with at least its first `ptp_first` PTP edits."""
    loader = context.loader("code_rules", code_rules)
    key = code_key(system, code)
    wanted = loader.ptp_first
    if ptp_first > wanted.get(key, 0):
        if key in wanted:   # loaded (or loading) with fewer edits: fetch again
            loader.clear(key)
        wanted[key] = ptp_first
    else:
        wanted.setdefault(key, 0)
    return await loader.load(key)
