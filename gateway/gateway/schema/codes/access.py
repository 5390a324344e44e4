"""Who may see a code page's premium sections: the metering service decides, and this
module holds the whole rule.

A field of CodePage is premium when it is declared with `premium_field()` (its one
`PremiumSection` extension): it resolves to null unless the caller's view of the page is
granted, and a refused page never runs its (RPC-backed) resolver. A view is spent only
when a request asks for `access` or a premium section: the official descriptor (`title`,
`billable`, ...) and the plain-language `description` are shown to everyone for free.

Every spending field of one HTTP request (aliases, and every operation of a batched
request, since they share the context) goes through one DataLoader, so the request asks
metering once about each distinct code page it opens, in one `check_views` call per round
of RPCs.

The decision about a page is made once per request (`decided_access`) and every field
that spends reads it. One round for a page this process has seen before: the page is in
the process's cache (gateway.edition_cache; no get_codes RPC), so the code exists and,
when the query asks to spend, the meter is asked at once (`prefetch_access`) and the
`code` field waits for its answer, so the page's own fields are read at once, with no
coroutine each. The cache never answers for the meter: every view that asks to spend is
metered. A code this process does not hold is metered after the codes service has shown
that it exists. The caller is the account behind the request's token, or else its signed
guest id together with its client IP (guest views are capped per IP per day, so dropping
the cookie does not reset the meter). Unknown codes never get here (the resolver returns
null first), so they cost nothing; `searchCodes` is not metered at all.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import strawberry
from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionNode
from strawberry.dataloader import DataLoader
from strawberry.extensions import FieldExtension
from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_camel_case

from medcode_contracts import codes as contract
from medcode_contracts import metering
from medcode_contracts.errors import Unavailable
from medcode_contracts.rpc import Metering

from ...context import Context

log = logging.getLogger(__name__)


@strawberry.type(description="remaining/limit null = unlimited")
class Access:
    granted: bool
    remaining: int | None = None
    limit: int | None = None
    reason: str | None = None

    @classmethod
    def from_decision(cls, decision: metering.ViewDecision | metering.ClaimDecision) -> Access:
        """What the meter decided; its reason only when it refused."""
        return cls(
            granted=decision.granted,
            remaining=decision.remaining,
            limit=decision.limit,
            reason=None if decision.granted else decision.reason,
        )


OPEN_ACCESS = Access(granted=True, remaining=None, limit=None, reason=None)
METER_AWAY = Access(
    granted=False,
    reason="Page views cannot be counted right now, so only the official descriptor "
    "is shown. Try again in a moment for the full page.",
)


def resource_of(page: contract.CodePage) -> str:
    """The metered resource of a page: "ICD10CM:K22.0" (the code's canonical form, as the
    codes service prints it, so `k220` and `K22.0` are one view)."""
    return metering.code_page_resource(page.system, page.code)


def _spending_fields() -> frozenset[str]:
    """GraphQL names of CodePage's fields that spend a view: `access` and the premium sections."""
    from .types import CodePage

    fields = get_object_definition(CodePage, strict=True).fields
    names = {
        f.graphql_name or to_camel_case(f.python_name)
        for f in fields
        if any(isinstance(e, PremiumSection) for e in f.extensions)
    }
    return frozenset(names | {"access"})


def asks_to_spend(info: strawberry.Info) -> bool:
    """True when the `code` field being resolved surely asks for `access` or a premium
    section. Any directive (@skip, @include) on the way makes it False: then the meter
    waits for the page as before, so nothing is spent that the query may not ask for.
    (Read from the query's syntax tree: Strawberry's `info.selected_fields` also converts
    every argument of the subtree, a few percent of a page's CPU for nothing.)"""
    global _SPENDING
    if _SPENDING is None:
        _SPENDING = _spending_fields()
    raw = info._raw_info
    fragments = raw.fragments

    def walk(selections: Iterable[SelectionNode]) -> bool | None:
        found = False
        for selection in selections:
            if selection.directives:
                return None
            if isinstance(selection, FieldNode):
                found |= selection.name.value in _SPENDING
                continue
            if isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is None or fragment.directives:
                    return None
                inner = walk(fragment.selection_set.selections)
            elif isinstance(selection, InlineFragmentNode):  # its fields are the page's own
                inner = walk(selection.selection_set.selections)
            else:
                return None
            if inner is None:
                return None
            found |= inner
        return found

    nodes = raw.field_nodes
    if len(nodes) != 1 or nodes[0].directives or nodes[0].selection_set is None:
        return False
    return bool(walk(nodes[0].selection_set.selections))


_SPENDING: frozenset[str] | None = None


def view_decisions(context: Context) -> DataLoader[str, metering.ViewDecision]:
    async def load(resources: list[str]) -> list[metering.ViewDecision]:
        who = await context.meter_subject()
        request = metering.CheckViewsRequest(
            subject=who.subject, plan=who.plan, resources=resources, client_ip=who.client_ip
        )
        return await context.invoke(Metering.CHECK_VIEWS, request, op="code.access")

    return DataLoader(load_fn=load, max_batch_size=Metering.CHECK_VIEWS.max_batch_size)


def decided_access(context: Context, resource: str) -> asyncio.Future[Access]:
    """This request's one decision about the view of `resource`, started on first ask:
    every field of the request that spends it reads the same decision."""
    decided = context.page_accesses.get(resource)
    if decided is None:
        decided = context.page_accesses[resource] = asyncio.ensure_future(_decide(context, resource))
        # Errors surface in the fields that read it; if none does, they are dropped quietly.
        decided.add_done_callback(lambda done: done.cancelled() or done.exception())
    return decided


def prefetch_access(context: Context, resource: str) -> asyncio.Future[Access] | None:
    """Ask the meter about `resource` now, while its page loads (a page the cache holds).
    The decision waits for the page's fields (decided_access); errors surface there."""
    if context.auth is None:
        return None
    return decided_access(context, resource)


async def check_access(context: Context, page: contract.CodePage) -> Access:
    """The page's Access for this request's caller: spends its view, once per request
    however many fields ask."""
    if context.auth is None:
        return OPEN_ACCESS  # no HTTP request (in-process schema use): nobody to meter
    return await asyncio.shield(decided_access(context, resource_of(page)))


async def _decide(context: Context, resource: str) -> Access:
    await context.account()  # a bad token is an error, not a gated answer
    refusal = context.spending_refusal()
    if refusal is not None:  # a GET link, or a cookie without its CSRF proof: spend nothing
        return Access(granted=False, remaining=None, limit=None, reason=refusal)
    try:
        decision = await context.loader("view_decisions", view_decisions).load(resource)
    except Unavailable:
        # The descriptor is free to show; only the premium part waits for the meter.
        # Failing closed keeps the quota honest while metering is away.
        log.warning("metering did not answer: %s shown without its premium sections", resource)
        return METER_AWAY
    return Access.from_decision(decision)


def page_access(info: strawberry.Info, source: Any) -> Access | Awaitable[Access]:
    """The Access of the CodePage `source` (it keeps its contract page as `contract_page`
    and its metered resource as `resource`): at once when this request has decided it."""
    decided = info.context.page_accesses.get(source.resource)
    # An error takes the awaited way: each field reports it, as when the fields wait for the
    # meter (raised at once by the non-null `access`, it would end its siblings unasked).
    if decided is not None and decided.done() and not decided.cancelled() and decided.exception() is None:
        return decided.result()
    return check_access(info.context, source.contract_page)


class PremiumSection(FieldExtension):
    """The premium rule: null unless the caller's view of the page is granted; asking
    for the field spends that view. The field's own resolver runs only when granted;
    `check_arguments(**kwargs)` first, so a bad argument is an error and spends nothing."""

    def __init__(self, check_arguments: Callable[..., None] | None = None):
        super().__init__()
        self.check_arguments = check_arguments

    def resolve(self, next_, source: Any, info: strawberry.Info, **kwargs):
        # A plain (sync) field: its value at once when the view is decided (the code
        # resolver waits for a decision it started early), else a coroutine graphql-core awaits.
        if self.check_arguments is not None:
            self.check_arguments(**kwargs)
        access = page_access(info, source)
        if isinstance(access, Access):
            return next_(source, info, **kwargs) if access.granted else None
        return self._resolve_when_decided(access, next_, source, info, **kwargs)

    async def resolve_async(self, next_, source: Any, info: strawberry.Info, **kwargs):
        if self.check_arguments is not None:
            self.check_arguments(**kwargs)
        access = page_access(info, source)
        return await self._resolve_when_decided(access, next_, source, info, **kwargs)

    async def _resolve_when_decided(self, access, next_, source: Any, info: strawberry.Info, **kwargs):
        if not (access if isinstance(access, Access) else await access).granted:
            return None
        result = next_(source, info, **kwargs)
        return await result if inspect.isawaitable(result) else result


def premium_field(*, description: str | None = None, check_arguments: Callable[..., None] | None = None) -> Any:
    """`strawberry.field` (or its decorator) of a premium section of CodePage: the one
    place a section is declared premium."""
    return strawberry.field(description=description, extensions=[PremiumSection(check_arguments)])
