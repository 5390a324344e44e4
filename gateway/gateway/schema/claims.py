"""NCCI claim checks and modifiers (a later issue implements them)."""
from __future__ import annotations

from datetime import date

import strawberry

from .errors import not_implemented


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


@strawberry.type
class ClaimFinding:
    kind: str = strawberry.field(description="PTP, MUE, UNKNOWN_CODE, DELETED_CODE, ...")
    codes: list[str]
    message: str
    modifier_allowed: bool | None
    source: str = strawberry.field(description="Which edition of which file decided it.")


@strawberry.type
class ClaimCheck:
    clean: bool
    findings: list[ClaimFinding]


@strawberry.type
class Modifier:
    code: str
    title: str
    description: str | None


@strawberry.type
class ClaimsQuery:
    @strawberry.field(description="NCCI procedure-to-procedure and medically-unlikely-edit check of one claim.")
    async def check_claim(self, input: ClaimInput) -> ClaimCheck:
        raise not_implemented("checkClaim")

    @strawberry.field
    async def modifier(self, code: str) -> Modifier | None:
        raise not_implemented("modifier")
