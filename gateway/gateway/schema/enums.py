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
