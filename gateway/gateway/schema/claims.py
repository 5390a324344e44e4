"""NCCI claim checks and modifiers: `checkClaim` and `modifier` over the codes service's
check_claim and get_modifier RPCs (contracts: medcode_contracts.coding_rules). The claim is
checked against its contract (coding_rules.parse_claim) before the RPC, and again by the
service; a bad one is BadRequest, i.e. BAD_USER_INPUT, and costs no RPC.

A claim check is metered like the code page's premium sections (metering.check_claim: a
daily quota per plan, one claim of up to 50 lines counting once). Past the quota, or when
the request may not spend (a GET, a cookie without its CSRF proof), the answer keeps
`clean` and which codes and lines are involved, and withholds the messages, the modifier
indicators and the MUE values; `access` says why.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import strawberry

from medcode_contracts import coding_rules as contract
from medcode_contracts import metering
from medcode_contracts.errors import BadRequest, Unavailable
from medcode_contracts.rpc import Codes, Metering

from .codes.access import OPEN_ACCESS
from .codes.types import Access
from .common import copy_fields

log = logging.getLogger(__name__)

METER_AWAY = Access(
    granted=False,
    reason="Claim checks cannot be counted right now, so only whether the claim is clean "
    "is shown. Try again in a moment for the full answer.",
)


@strawberry.input
class ClaimLineInput:
    code: str
    modifiers: list[str] | None = strawberry.field(default_factory=list)
    units: int | None = 1


@strawberry.input
class ClaimInput:
    lines: list[ClaimLineInput]
    date_of_service: date | None = None
    setting: str | None = "practitioner"
    # Beside the contract: the claim's ICD-10-CM diagnoses (the first is the principal) and
    # the patient's age and sex, for the lab NCD coverage and Medicare Code Editor checks.
    diagnoses: list[str] | None = strawberry.field(
        default_factory=list, description="ICD-10-CM codes, the principal diagnosis first (at most 25)."
    )
    patient_age: int | None = strawberry.field(default=None, description="Age in years (0 to 124).")
    patient_sex: str | None = strawberry.field(default=None, description="male, female or unknown.")


@strawberry.type
class ClaimFinding:
    kind: str = strawberry.field(
        description="PTP, PTP_MODIFIER (informational), MUE, UNKNOWN_CODE, DELETED_CODE, "
        "COVERAGE (lab NCD), CODE_EDIT (Medicare Code Editor)"
    )
    codes: list[str]
    message: str
    modifier_allowed: bool | None
    source: str = strawberry.field(description="Which edition of which file decided it.")
    lines: list[int] = strawberry.field(description="1-based numbers of the claim lines involved.")

    @classmethod
    def from_contract(cls, finding: contract.ClaimFinding) -> ClaimFinding:
        return copy_fields(cls, finding, kind=finding.kind.value)


@strawberry.type
class ClaimCheck:
    clean: bool
    findings: list[ClaimFinding]
    date_of_service: date = strawberry.field(
        description="The date the edits were applied for (today when none was given)."
    )
    setting: str
    editions: list[str] = strawberry.field(description="The rule editions the check used.")
    access: Access = strawberry.field(description="Whether the findings' details are shown (the meter), and why not.")

    @classmethod
    def from_contract(cls, check: contract.ClaimCheck, access: Access = OPEN_ACCESS) -> ClaimCheck:
        findings = [ClaimFinding.from_contract(f) for f in check.findings]
        if not access.granted:
            findings = [withheld(finding, access.reason) for finding in findings]
        return copy_fields(cls, check, findings=findings, setting=check.setting.value, access=access)


def withheld(finding: ClaimFinding, reason: str | None) -> ClaimFinding:
    """A finding without its premium part: the kind, codes and lines stay; the message
    (the edit's rationale, the MUE value) becomes the reason, the modifier indicator null."""
    return ClaimFinding(
        kind=finding.kind,
        codes=finding.codes,
        message=reason or "Details withheld.",
        modifier_allowed=None,
        source=finding.source,
        lines=finding.lines,
    )


async def claim_access(context) -> Access:
    """Counts this claim check on the caller's meter, unless the request may not spend."""
    if context.auth is None:
        return OPEN_ACCESS  # no HTTP request (in-process schema use): nobody to meter
    await context.account()  # a bad token is an error, not a gated answer
    refusal = context.spending_refusal()
    if refusal is not None:
        return Access(granted=False, remaining=None, limit=None, reason=refusal)
    who = await context.meter_subject()
    try:
        decision = await context.invoke(
            Metering.CHECK_CLAIM,
            metering.MeterRequest(subject=who.subject, plan=who.plan, client_ip=who.client_ip),
            op="checkClaim.access",
        )
    except Unavailable:
        log.warning("metering did not answer: a claim check shown without its details")
        return METER_AWAY
    return Access.from_decision(decision)


@strawberry.type
class Modifier:
    code: str
    title: str
    description: str | None
    system: str = strawberry.field(description="HCPCS (Level II) or CPT (descriptor from a licensed file only).")
    ncci_associated: bool = strawberry.field(
        description="One of the modifiers that can unbundle an NCCI PTP edit with modifier indicator 1."
    )
    terminated_on: date | None
    source: str

    @classmethod
    def from_contract(cls, modifier: contract.Modifier) -> Modifier:
        return copy_fields(cls, modifier, system=modifier.system.value)


def claim_payload(claim: ClaimInput) -> dict:
    """The claim's fields; Context.invoke checks them against ClaimInput (BadRequest)."""
    if len(claim.lines) > contract.MAX_CLAIM_LINES:  # refuse before the RPC: no work for nothing
        raise BadRequest(f"a claim has at most {contract.MAX_CLAIM_LINES} lines (got {len(claim.lines)})")
    payload: dict[str, Any] = {
        "lines": [
            {"code": line.code, "modifiers": line.modifiers or [], "units": 1 if line.units is None else line.units}
            for line in claim.lines
        ]
    }
    if claim.date_of_service is not None:
        payload["date_of_service"] = claim.date_of_service.isoformat()
    if claim.setting is not None:
        payload["setting"] = claim.setting
    if claim.diagnoses:
        if len(claim.diagnoses) > contract.MAX_CLAIM_DIAGNOSES:
            raise BadRequest(
                f"a claim has at most {contract.MAX_CLAIM_DIAGNOSES} diagnoses (got {len(claim.diagnoses)})"
            )
        payload["diagnoses"] = list(claim.diagnoses)
    if claim.patient_age is not None:
        payload["patient_age"] = claim.patient_age
    if claim.patient_sex is not None:
        payload["patient_sex"] = claim.patient_sex
    return payload


@strawberry.type
class ClaimsQuery:
    @strawberry.field(description="NCCI procedure-to-procedure and medically-unlikely-edit check of one claim.")
    async def check_claim(self, info: strawberry.Info, input: ClaimInput) -> ClaimCheck:
        context = info.context
        payload = claim_payload(input)
        context.prefetch_account()  # the meter needs the caller: overlap the two RPCs
        # Checked first, counted after: a claim the service refuses (bad input) costs nothing.
        check = await context.invoke(Codes.CHECK_CLAIM, payload, op="checkClaim")
        return ClaimCheck.from_contract(check, await claim_access(context))

    @strawberry.field(description="A modifier and its descriptor (HCPCS Level II; CPT's from a licensed file).")
    async def modifier(self, info: strawberry.Info, code: str) -> Modifier | None:
        code = code.strip()
        if not 1 <= len(code) <= 4:
            raise BadRequest("code must be a modifier of 1 to 4 characters, e.g. LT or 59")
        context = info.context
        modifier = await context.invoke(Codes.GET_MODIFIER, contract.GetModifierRequest(code=code), op="modifier")
        return Modifier.from_contract(modifier) if modifier is not None else None
