"""Per-request DataLoader: every `code` field of one request becomes ONE get_codes RPC."""
from __future__ import annotations

import re

from medcode_contracts import codes as contract
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
