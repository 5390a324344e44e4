"""Accounts and metering (later issues implement them)."""
from __future__ import annotations

import strawberry

from .enums import Plan, Role
from .errors import not_implemented


@strawberry.input
class RegisterInput:
    email: str
    password: str
    name: str
    role: Role | None = Role.MEMBER


@strawberry.type
class Account:
    id: strawberry.ID
    email: str
    name: str
    plan: Plan
    role: Role


@strawberry.type
class AuthPayload:
    token: str
    account: Account


@strawberry.type(description="limit/remaining null = unlimited")
class Meter:
    plan: Plan
    limit: int | None
    used: int
    remaining: int | None


@strawberry.type
class Viewer:
    account: Account | None
    meter: Meter


@strawberry.type
class AccountsQuery:
    @strawberry.field(description="Who is calling, and what the meter says for them.")
    async def viewer(self) -> Viewer:
        raise not_implemented("viewer")


@strawberry.type
class AccountsMutation:
    @strawberry.mutation
    async def register(self, input: RegisterInput) -> AuthPayload:
        raise not_implemented("register")

    @strawberry.mutation
    async def login(self, email: str, password: str) -> AuthPayload:
        raise not_implemented("login")

    @strawberry.mutation
    async def logout(self) -> bool:
        raise not_implemented("logout")

    @strawberry.mutation(description="ADMIN only: change an account's plan (billing is out of scope).")
    async def set_plan(self, account_id: strawberry.ID, plan: Plan) -> Account:
        raise not_implemented("setPlan")

    @strawberry.mutation(description="Delete an account and the person's data in every service: "
                                     "one's own (no id) or, as ADMIN, anyone's.")
    async def delete_account(self, account_id: strawberry.ID | None = None) -> bool:
        raise not_implemented("deleteAccount")
