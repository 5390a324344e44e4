"""NCCI claim checks and modifiers: `checkClaim` and `modifier` over the codes service's
check_claim and get_modifier RPCs (contracts: medcode_contracts.coding_rules). The service
validates the claim; a bad one comes back as BadRequest, i.e. BAD_USER_INPUT."""
from __future__ import annotations

from datetime import date

import strawberry
from medcode_contracts import codes as codes_contract
from medcode_contracts import coding_rules as contract
from medcode_contracts.errors import BadRequest


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
        default_factory=list, description="ICD-10-CM codes, the principal diagnosis first (at most 25).")
    patient_age: int | None = strawberry.field(default=None, description="Age in years (0 to 124).")
    patient_sex: str | None = strawberry.field(default=None, description="male, female or unknown.")


@strawberry.type
class ClaimFinding:
    kind: str = strawberry.field(description="PTP, PTP_MODIFIER (informational), MUE, UNKNOWN_CODE, DELETED_CODE, "
                                             "COVERAGE (lab NCD), CODE_EDIT (Medicare Code Editor)")
    codes: list[str]
    message: str
    modifier_allowed: bool | None
    source: str = strawberry.field(description="Which edition of which file decided it.")
    lines: list[int] = strawberry.field(description="1-based numbers of the claim lines involved.")

    @classmethod
    def from_contract(cls, finding: contract.ClaimFinding) -> ClaimFinding:
        return cls(kind=finding.kind.value, codes=finding.codes, message=finding.message,
                   modifier_allowed=finding.modifier_allowed, source=finding.source, lines=finding.lines)


@strawberry.type
class ClaimCheck:
    clean: bool
    findings: list[ClaimFinding]
    date_of_service: date = strawberry.field(description="The date the edits were applied for (today when none was given).")
    setting: str
    editions: list[str] = strawberry.field(description="The rule editions the check used.")

    @classmethod
    def from_contract(cls, check: contract.ClaimCheck) -> ClaimCheck:
        return cls(clean=check.clean, findings=[ClaimFinding.from_contract(f) for f in check.findings],
                   date_of_service=check.date_of_service, setting=check.setting.value, editions=check.editions)


@strawberry.type
class Modifier:
    code: str
    title: str
    description: str | None
    system: str = strawberry.field(description="HCPCS (Level II) or CPT (descriptor from a licensed file only).")
    ncci_associated: bool = strawberry.field(
        description="One of the modifiers that can unbundle an NCCI PTP edit with modifier indicator 1.")
    terminated_on: date | None
    source: str

    @classmethod
    def from_contract(cls, modifier: contract.Modifier) -> Modifier:
        return cls(code=modifier.code, title=modifier.title, description=modifier.description,
                   system=modifier.system.value, ncci_associated=modifier.ncci_associated,
                   terminated_on=modifier.terminated_on, source=modifier.source)


def claim_payload(claim: ClaimInput) -> dict:
    """The RPC payload; the service's contract model checks it (and answers BadRequest)."""
    if len(claim.lines) > contract.MAX_CLAIM_LINES:   # refuse before the RPC: no work for nothing
        raise BadRequest(f"a claim has at most {contract.MAX_CLAIM_LINES} lines (got {len(claim.lines)})")
    payload = {"lines": [{"code": line.code, "modifiers": line.modifiers or [],
                          "units": 1 if line.units is None else line.units} for line in claim.lines]}
    if claim.date_of_service is not None:
        payload["date_of_service"] = claim.date_of_service.isoformat()
    if claim.setting is not None:
        payload["setting"] = claim.setting
    if claim.diagnoses:
        if len(claim.diagnoses) > contract.MAX_CLAIM_DIAGNOSES:
            raise BadRequest(f"a claim has at most {contract.MAX_CLAIM_DIAGNOSES} diagnoses "
                             f"(got {len(claim.diagnoses)})")
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
        result = await context.rpc.call(codes_contract.SERVICE, contract.Rpc.CHECK_CLAIM,
                                        request=claim_payload(input), timeout=context.rpc_timeout,
                                        op="checkClaim")
        return ClaimCheck.from_contract(contract.ClaimCheck.model_validate(result))

    @strawberry.field(description="A modifier and its descriptor (HCPCS Level II; CPT's from a licensed file).")
    async def modifier(self, info: strawberry.Info, code: str) -> Modifier | None:
        code = code.strip()
        if not 1 <= len(code) <= 4:
            raise BadRequest("code must be a modifier of 1 to 4 characters, e.g. LT or 59")
        context = info.context
        result = await context.rpc.call(codes_contract.SERVICE, contract.Rpc.GET_MODIFIER,
                                        request=contract.GetModifierRequest(code=code).model_dump(mode="json"),
                                        timeout=context.rpc_timeout, op="modifier")
        return Modifier.from_contract(contract.Modifier.model_validate(result)) if result else None
