"""Who may see a code page's premium sections: the metering service decides.

Every `code` field of one HTTP request (aliases, and every operation of a batched
request, since they share the context) goes through one DataLoader, so the request asks
metering once, in one `check_views` call, about each distinct code page it opens. The
caller is the account behind the request's token, or else its signed guest id together
with its client IP (guest views are capped per IP per day, so dropping the cookie does
not reset the meter). Unknown codes never get here (the resolver returns null first), so
they cost nothing; `searchCodes` is not metered at all.

The premium fields of CodePage (PREMIUM_FIELDS) resolve to null whenever the page's
access is not granted: a field extension is put on each of them here, once, so the rule
holds for every premium field however its resolver is written, and a refused page never
runs the (RPC-backed) resolvers of those sections.
"""
from __future__ import annotations

import logging

from typing import Any

from medcode_contracts import codes as contract
from medcode_contracts import metering
from medcode_contracts.errors import Unavailable
from strawberry.dataloader import DataLoader
from strawberry.extensions import FieldExtension

from ...context import Context
from .types import Access, CodePage

log = logging.getLogger(__name__)

OPEN_ACCESS = Access(granted=True, remaining=None, limit=None, reason=None)
METER_AWAY = Access(granted=False, remaining=None, limit=None,
                    reason="Page views cannot be counted right now, so only the official descriptor "
                           "is shown. Try again in a moment for the full page.")

# The contract's "Premium sections: null whenever access.granted is false" (python names).
PREMIUM_FIELDS = ("lay_terms", "notes", "parent", "children", "ptp_edits", "mue", "crosswalks",
                  "coverage", "code_edits")


def resource_of(page: contract.CodePage) -> str:
    """The metered resource of a page: "ICD10CM:K22.0" (the code as the codes service
    prints it, so `k220` and `K22.0` are one view)."""
    return f"{page.system.value}:{page.code}"


def view_decisions(context: Context) -> DataLoader[str, metering.ViewDecision]:
    async def load(resources: list[str]) -> list[metering.ViewDecision]:
        who = await context.meter_subject()
        request = metering.CheckViewsRequest(subject=who.subject, plan=who.plan, resources=resources,
                                             client_ip=who.client_ip)
        decisions = await context.rpc.call(metering.SERVICE, metering.Rpc.CHECK_VIEWS,
                                           request=request.model_dump(mode="json"),
                                           timeout=context.rpc_timeout, op="code.access")
        if not isinstance(decisions, list) or len(decisions) != len(resources):
            raise RuntimeError(f"check_views answered {len(decisions or [])} decisions for {len(resources)} pages")
        return [metering.ViewDecision.model_validate(decision) for decision in decisions]

    return DataLoader(load_fn=load, max_batch_size=metering.MAX_RESOURCES)


async def check_access(context: Context, page: contract.CodePage) -> Access:
    """The page's Access for this request's caller (one view, counted once per request)."""
    if context.auth is None:
        return OPEN_ACCESS  # no HTTP request (in-process schema use): nobody to meter
    await context.account()  # a bad token is an error, not a gated answer
    refusal = context.spending_refusal()
    if refusal is not None:  # a GET link, or a cookie without its CSRF proof: spend nothing
        return Access(granted=False, remaining=None, limit=None, reason=refusal)
    try:
        decision = await context.loader("view_decisions", view_decisions).load(resource_of(page))
    except Unavailable:
        # The descriptor is free to show; only the premium part waits for the meter.
        # Failing closed keeps the quota honest while metering is away.
        log.warning("metering did not answer: %s shown without its premium sections", resource_of(page))
        return METER_AWAY
    return Access(granted=decision.granted, remaining=decision.remaining, limit=decision.limit,
                  reason=None if decision.granted else decision.reason)


class PremiumOnly(FieldExtension):
    """Null unless the CodePage it belongs to was granted."""

    def resolve(self, next_, source: Any, info, **kwargs):
        if not _granted(source):
            return None
        return next_(source, info, **kwargs)

    async def resolve_async(self, next_, source: Any, info, **kwargs):
        if not _granted(source):
            return None
        result = next_(source, info, **kwargs)
        return await result if hasattr(result, "__await__") else result


def _granted(page: Any) -> bool:
    access = getattr(page, "access", None)
    return access is not None and access.granted is True


def _gate_premium_fields() -> None:
    fields = {f.python_name: f for f in CodePage.__strawberry_definition__.fields}
    missing = [name for name in PREMIUM_FIELDS if name not in fields]
    if missing:
        raise RuntimeError(f"CodePage has no premium field(s) {missing}: update access.PREMIUM_FIELDS")
    for name in PREMIUM_FIELDS:
        extensions = fields[name].extensions
        if not any(isinstance(e, PremiumOnly) for e in extensions):
            extensions.append(PremiumOnly())


_gate_premium_fields()
