"""Enums of the public contract (values equal the contracts' where one exists)."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class CodeSystem(Enum):
    ICD10CM = "ICD10CM"
    ICD10PCS = "ICD10PCS"
    HCPCS = "HCPCS"
    CPT = "CPT"
    MODIFIER = "MODIFIER"
    # Added beside the contract's values (additive): GEM crosswalks lead to ICD-9-CM codes.
    ICD9CM = strawberry.enum_value(
        "ICD9CM",
        description=(
            "ICD-9-CM: appears only as a crosswalk target (CMS GEMs); it has no code pages and cannot be searched."
        ),
    )


@strawberry.enum
class Plan(Enum):
    GUEST = "GUEST"
    FREE = "FREE"
    PRO = "PRO"


@strawberry.enum
class Role(Enum):
    MEMBER = "MEMBER"
    EMPLOYER = "EMPLOYER"
    ADMIN = "ADMIN"
