"""Contract of the `metering` service: code-page views and assistant questions per plan.

A *subject* is whom the meter counts: a user id (plans FREE, PRO) or a guest id (plan
GUEST); the plan tells which. Callers pass the plan they know from `accounts.authenticate`.
Every RPC takes one argument, `request` (the JSON dump of the model named beside it), as
the other services do:

    decisions = metering_rpc.check_views({"subject": guest_id, "plan": "GUEST",
                                          "resources": ["ICD10CM:K22.0"], "client_ip": ip})

A view is one distinct resource (e.g. "ICD10CM:K22.0") per subject per period; opening it
again in the period is free. Granting is atomic per subject. Limits and remaining are
null when unlimited.
"""

from __future__ import annotations

from pydantic import Field

from .accounts import Plan
from .codes import CodeSystem, canonical_code
from .common import Id, ItemError, Model

SERVICE = "metering"

MAX_RESOURCES = 200
Resource = Id  # "ICD10CM:K22.0"


def code_page_resource(system: CodeSystem | str, code: str) -> str:
    """The metered resource of a code page: "ICD10CM:K22.0" however the code was typed,
    so `k220` and `K22.0` are one view."""
    return f"{CodeSystem(system).value}:{canonical_code(system, code)}"


class Rpc:
    HEALTH = "health"
    CHECK_VIEWS = "check_views"  # CheckViewsRequest -> list[ViewDecision], request order
    # CheckViewsManyRequest -> list[CheckViewsOutcome], request order: several callers' checks
    # in one call (the gateway coalesces concurrent ones), each decided as check_views would
    CHECK_VIEWS_MANY = "check_views_many"
    GET_METER = "get_meter"  # MeterRequest -> Meter (counts nothing)
    CHECK_QUESTIONS = "check_questions"  # MeterRequest -> QuestionDecision (counts one when granted)
    # Right after `accounts.register` with a guest id, so the new account's meter is right at
    # once; the `user_registered` handler does the same later (idempotent).
    CARRY_OVER = "carry_over"  # CarryOverRequest -> Meter (of the user)
    # One claim check (of up to coding_rules.MAX_CLAIM_LINES lines) per call, per UTC day;
    # guests also per client IP per day.
    CHECK_CLAIM = "check_claim"  # MeterRequest -> ClaimDecision (counts one when granted)


class Events:
    VIEW_RECORDED = "view_recorded"
    QUOTA_EXHAUSTED = "quota_exhausted"


class CheckViewsRequest(Model):
    subject: Id
    plan: Plan
    resources: list[Resource] = Field(min_length=1, max_length=MAX_RESOURCES)
    client_ip: str | None = Field(default=None, max_length=64)  # guests are capped per IP per day


class ViewDecision(Model):
    resource: str
    granted: bool
    remaining: int | None = None  # after this decision; None = unlimited
    limit: int | None = None
    reason: str | None = None  # why not, and what to do; None when granted


# Checks one check_views_many call carries at most (decided one after the other).
MAX_CHECKS_PER_CALL = 16


class CheckViewsManyRequest(Model):
    checks: list[CheckViewsRequest] = Field(min_length=1, max_length=MAX_CHECKS_PER_CALL)


class CheckViewsOutcome(Model):
    """One check of a CheckViewsManyRequest: its decisions, or the error check_views would
    have raised for it alone, which fails no other check."""

    result: list[ViewDecision] | None = None
    error: ItemError | None = None


class MeterRequest(Model):
    subject: Id
    plan: Plan
    client_ip: str | None = Field(default=None, max_length=64)


class Meter(Model):
    plan: Plan
    limit: int | None = None
    used: int
    remaining: int | None = None


class QuestionDecision(Model):
    granted: bool
    remaining: int | None = None
    limit: int | None = None
    reason: str | None = None


class ClaimDecision(Model):
    granted: bool
    remaining: int | None = None  # checks left today; None = unlimited
    limit: int | None = None  # checks a day
    reason: str | None = None


class CarryOverRequest(Model):
    guest_id: Id
    user_id: Id
