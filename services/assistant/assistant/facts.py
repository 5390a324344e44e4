"""Facts from the codes service, over its existing RPCs (search_codes, get_codes,
check_claim, get_modifier, get_code_rules). The assistant never reads code-set or rule
files itself: an NCCI or MUE answer is the codes service's claim check in words.

`CodesFacts` wraps a Nameko ServiceRpc proxy of `codes`; tests hand the composer any
object with the same methods.
"""

from __future__ import annotations

from dataclasses import dataclass

from medcode_contracts import codes as codes_contract
from medcode_contracts import coding_rules as rules
from medcode_contracts.codes import CodePage, CodeSummary, CodeSystem, SearchResult
from medcode_contracts.errors import Unavailable

from .understanding import CodeMention

CPT_TITLE = "CPT® code (the descriptor needs an AMA CPT licence)"


def call_within(timeout: float, service: str, method, request):
    """`method(request)` of a Nameko RPC proxy, or Unavailable after `timeout` seconds
    (Nameko's own RPC client waits for ever, and a stuck worker serves nobody).

    Only the wait for the reply is timed. The request is published first, outside the
    timeout: a timeout that fired while py-amqp read the broker's publish confirmation would
    leave the pooled connection in the middle of a frame (py-amqp puts a partly read frame
    back only on socket.timeout), and the next publish on it would read garbage or a stale
    confirmation. The publish ends by itself (kombu's retry policy is bounded)."""
    import eventlet
    from nameko.rpc import Client

    # Nameko's proxy splits publish and wait; anything else (a test's fake) is one call.
    pending = method.call_async(request) if isinstance(method, Client) else None
    with eventlet.Timeout(timeout, Unavailable(f"the {service} service did not answer within {timeout:g} s")):
        return pending.result() if pending is not None else method(request)


class CodesFacts:
    def __init__(self, codes_rpc, timeout: float = 10.0):
        self.rpc = codes_rpc
        self.timeout = timeout

    def _call(self, name: str, request):
        return call_within(self.timeout, codes_contract.SERVICE, getattr(self.rpc, name), request)

    def get_codes(self, refs: list[tuple[CodeSystem, str]]) -> list[CodePage | None]:
        if not refs:
            return []
        pages = self._call("get_codes", {"refs": [{"system": s.value, "code": c} for s, c in refs]})
        return [CodePage.model_validate(p) if p else None for p in pages]

    def search(
        self, query: str, systems: list[CodeSystem] | None = None, first: int = 5, billable_only: bool = False
    ) -> SearchResult:
        request = codes_contract.SearchRequest(
            query=query[:200], systems=systems, first=first, billable_only=billable_only
        )
        return SearchResult.model_validate(self._call("search_codes", request.model_dump(mode="json")))

    def check_claim(self, claim: rules.ClaimInput) -> rules.ClaimCheck:
        return rules.ClaimCheck.model_validate(self._call("check_claim", claim.model_dump(mode="json")))

    def get_modifier(self, code: str) -> rules.Modifier | None:
        found = self._call("get_modifier", {"code": code})
        return rules.Modifier.model_validate(found) if found else None

    def get_code_rules(self, refs: list[tuple[CodeSystem, str]], ptp_first: int = 0) -> list[rules.CodeRules]:
        if not refs:
            return []
        found = self._call(
            "get_code_rules", {"refs": [{"system": s.value, "code": c} for s, c in refs], "ptp_first": ptp_first}
        )
        return [rules.CodeRules.model_validate(r) for r in found]


@dataclass
class ResolvedCode:
    mention: CodeMention
    system: CodeSystem
    code: str  # as printed
    title: str
    billable: bool
    page: CodePage | None = None  # None for CPT numbers known only from NCCI/MUE files

    def summary(self) -> CodeSummary:
        return CodeSummary(system=self.system, code=self.code, title=self.title, billable=self.billable)


def resolve(facts, mentions: list[CodeMention]) -> tuple[list[ResolvedCode], list[CodeMention]]:
    """Each mention in the first system that knows it; (found, not found)."""
    page_refs = [(system, m.key) for m in mentions for system in m.systems if system is not CodeSystem.CPT]
    cpt_refs = [(CodeSystem.CPT, m.key) for m in mentions if CodeSystem.CPT in m.systems]
    pages = dict(zip(page_refs, facts.get_codes(page_refs)))
    cpt_rules = dict(zip(cpt_refs, facts.get_code_rules(cpt_refs))) if cpt_refs else {}
    cpt_pages = dict(zip(cpt_refs, facts.get_codes(cpt_refs))) if cpt_refs else {}
    found: list[ResolvedCode] = []
    missing: list[CodeMention] = []
    for mention in mentions:
        resolved: ResolvedCode | None = None
        for system in mention.systems:
            if system is CodeSystem.CPT:
                page = cpt_pages.get((system, mention.key))
                known = cpt_rules.get((system, mention.key))
                if page is not None:
                    resolved = ResolvedCode(mention, system, page.code, page.title, page.billable, page)
                elif known is not None and known.known:
                    resolved = ResolvedCode(mention, system, known.code, known.descriptor or CPT_TITLE, True)
            else:
                page = pages.get((system, mention.key))
                if page is not None:
                    resolved = ResolvedCode(mention, system, page.code, page.title, page.billable, page)
            if resolved is not None:
                break
        if resolved is None:
            missing.append(mention)
        else:
            found.append(resolved)
    return found, missing
