"""The `codes` service: code sets, search and code pages over RPC.

Thin entrypoints: validate the contract payload, call the store or the search index,
return JSON primitives.
"""

from __future__ import annotations

import eventlet
from nameko.timer import timer

from medcode_common.nameko_rpc import rpc
from medcode_common.nameko_service import PlatformService
from medcode_common.rpc import answer_each, parse_request
from medcode_contracts import codes as contract
from medcode_contracts import coding_rules as rules_contract

from .dependencies import CodePageCache, CodeSearchIndex, CodeStoreProvider, EditionEvents, PcsDefinitionsProvider
from .description import Sources, describe
from .domain import code_key
from .rules.provider import CodingRulesProvider


class CodesService(PlatformService):
    name = contract.SERVICE

    store = CodeStoreProvider()
    search = CodeSearchIndex()
    edition_events = EditionEvents()
    page_cache = CodePageCache()
    rules = CodingRulesProvider()
    pcs_definitions = PcsDefinitionsProvider()

    def health_details(self) -> dict[str, str]:
        return {e.system.value: e.name for e in self.store.current_editions()}

    @rpc
    def search_codes(self, request: dict) -> dict:
        return self.search.search(parse_request(contract.SearchRequest, request))

    @rpc
    def search_codes_many(self, request: dict) -> list:
        """Concurrent clients' searches (the gateway coalesces them), each answered as
        search_codes would answer it alone: its result or its error, failing no other."""
        return answer_each(parse_request(contract.SearchManyRequest, request).searches, self.search.search)

    @rpc
    def get_codes(self, request: dict) -> list:
        parsed = parse_request(contract.GetCodesRequest, request)
        keys = [(ref.system.value, code_key(ref.code)) for ref in parsed.refs]
        return self.page_cache.get_many(keys, self._load_pages, self._editions)

    def _load_pages(self, keys: list[tuple[str, str]]) -> list:
        found = self.store.get_page_facts([contract.CodeRef(system=system, code=key) for system, key in keys])
        pages = [f[0] if f else None for f in found]
        self.rules.add_lay_terms(pages)  # ICD-10-CM alphabetic index terms
        index = self.rules.snapshot().edition("INDEX")
        for facts in found:
            if facts is not None:
                page, extra, source = facts
                # The code-set edition's own file (the PCS source also names its title source).
                sources = Sources(
                    code_set_file=source.split(";")[0],
                    index_file=index.source if index else None,
                    definitions=self.pcs_definitions,
                )
                page.description = describe(page, extra, sources)
        return [page.model_dump(mode="json") if page else None for page in pages]

    def _editions(self) -> tuple:
        """What a code page depends on: the current code-set editions and rule editions."""
        return tuple(sorted(self.store.current_edition_ids().items())), self.rules.snapshot().key

    @rpc
    def cache_usage(self) -> dict:
        """{cache: {"entries", "bound"[, "unit"]}} of every bounded in-process cache: what the
        bench checks it has filled (issue 13's memory goal holds with all of them full)."""
        from .search import memo_usage

        return {
            "code_pages": {"entries": len(self.page_cache), "bound": self.page_cache.maxsize},
            **self.rules.cache_usage(),
            **memo_usage(),
        }

    @rpc
    def list_editions(self) -> list:
        return [e.model_dump(mode="json") for e in self.store.current_editions()]

    @timer(interval=2)
    def follow_new_editions(self):
        """Editions are loaded by the `codes.cli load` command: pick up what it committed
        (the search index reopens, the outbox publishes `edition_loaded`)."""
        self.search.refresh()
        self.edition_events()
        self.rules.snapshot()  # a new rule edition's cache is built here, not in a user's request

    @timer(interval=1)
    def warm_claim_edits(self):
        """The PTP edits of the codes claims named lately, into memory (CodingRules.warm_ptp):
        loaded here, not in a claim's time."""
        while self.rules.warm_ptp():
            eventlet.sleep(0)  # requests waiting run between two batches

    # ---- coding rules (NCCI PTP, MUE, GEMs, lay terms, modifiers) -------------------------
    @rpc
    def check_claim(self, request: dict) -> dict:
        """ClaimInput -> ClaimCheck; a bad claim raises BadRequest saying what is wrong."""
        return self.rules.check_claim(request).model_dump(mode="json")

    @rpc
    def get_code_rules(self, request: dict) -> list:
        """GetCodeRulesRequest -> one CodeRules per ref, in request order."""
        parsed = parse_request(rules_contract.GetCodeRulesRequest, request)
        return [r.model_dump(mode="json") for r in self.rules.get_code_rules(parsed)]

    @rpc
    def get_modifier(self, request: dict) -> dict | None:
        parsed = parse_request(rules_contract.GetModifierRequest, request)
        found = self.rules.get_modifier(parsed.code)
        return found.model_dump(mode="json") if found else None

    @rpc
    def list_modifiers(self) -> list:
        return [m.model_dump(mode="json") for m in self.rules.list_modifiers()]
