"""Accounts and the meter: register, login, logout, setPlan, deleteAccount and viewer.

The accounts service does the real work (password hashing, tokens, the ADMIN check from
the caller's token); the gateway adds the web app's cookies (gateway.auth), the guest's
carry-over to the new account, and the meter from the metering service.
"""

from __future__ import annotations

import logging

import strawberry

from medcode_contracts import accounts as contract
from medcode_contracts import metering
from medcode_contracts.errors import PlatformError
from medcode_contracts.rpc import Accounts, Metering

from ..context import Context
from .common import copy_fields
from .enums import Plan, Role

log = logging.getLogger("gateway.accounts")


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

    @classmethod
    def from_contract(cls, account: contract.Account) -> Account:
        # Only the type's fields ever leave the gateway (the service never sends a hash).
        return copy_fields(cls, account, plan=Plan(account.plan.value), role=Role(account.role.value))


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


# Requests are passed as dicts of their fields: Context.invoke checks them and answers
# BadRequest naming the bad field (never echoing a value: it may be a password) before any RPC.


def _signed_in(context: Context, auth: contract.AuthPayload) -> AuthPayload:
    if context.gateway_auth is not None:
        context.gateway_auth.set_session(context.response, auth.token, auth.expires_at)
    return AuthPayload(token=auth.token, account=Account.from_contract(auth.account))


@strawberry.type
class AccountsQuery:
    @strawberry.field(description="Who is calling, and what the meter says for them.")
    async def viewer(self, info: strawberry.Info) -> Viewer:
        context: Context = info.context
        account = await context.account()
        if context.auth is None:  # no HTTP request: nobody to meter
            return Viewer(account=None, meter=Meter(plan=Plan.GUEST, limit=None, used=0, remaining=None))
        who = await context.meter_subject()
        meter = await context.invoke(
            Metering.GET_METER,
            metering.MeterRequest(subject=who.subject, plan=who.plan, client_ip=who.client_ip),
            op="viewer",
        )
        return Viewer(
            account=Account.from_contract(account) if account else None,
            meter=Meter(plan=Plan(meter.plan.value), limit=meter.limit, used=meter.used, remaining=meter.remaining),
        )


@strawberry.type
class AccountsMutation:
    @strawberry.mutation
    async def register(self, info: strawberry.Info, input: RegisterInput) -> AuthPayload:
        context: Context = info.context
        guest_id = context.auth.guest_id if context.auth is not None else None
        client_ip = context.auth.client_ip if context.auth is not None else None
        request = dict(
            email=input.email,
            password=input.password,
            name=input.name,
            role=(input.role or Role.MEMBER).value,
            guest_id=guest_id,
            client_ip=client_ip,
        )
        result = _signed_in(context, await context.invoke(Accounts.REGISTER, request, op="register"))
        if guest_id is not None:
            await _carry_over(context, guest_id, str(result.account.id))
        return result

    @strawberry.mutation
    async def login(self, info: strawberry.Info, email: str, password: str) -> AuthPayload:
        context: Context = info.context
        client_ip = context.auth.client_ip if context.auth is not None else None
        request = dict(email=email, password=password, client_ip=client_ip)
        return _signed_in(context, await context.invoke(Accounts.LOGIN, request, op="login"))

    @strawberry.mutation(description="Ends this session: the token is revoked and the session cookie cleared.")
    async def logout(self, info: strawberry.Info) -> bool:
        context: Context = info.context
        if context.auth is not None and context.auth.cookie_authenticated:
            context.gateway_auth.check_csrf(context.auth)
        token = context.token
        if context.gateway_auth is not None:
            context.gateway_auth.clear_session(context.response)
        if token is None:
            return True  # nothing to end; logging out is idempotent
        done = await context.invoke(Accounts.LOGOUT, contract.TokenRequest(token=token), op="logout")
        context.forget_session()  # this process at once; the others by `session_revoked`
        return done

    @strawberry.mutation(description="ADMIN only: change an account's plan (billing is out of scope).")
    async def set_plan(self, info: strawberry.Info, account_id: strawberry.ID, plan: Plan) -> Account:
        context: Context = info.context
        await context.require_account(info)
        request = dict(token=context.token, account_id=str(account_id), plan=plan.value)
        account = await context.invoke(Accounts.SET_PLAN, request, op="setPlan")
        context.forget_user(account.id)  # this process at once; the others by `plan_changed`
        return Account.from_contract(account)

    @strawberry.mutation(
        description="Delete an account and the person's data in every service: "
        "one's own (no id) or, as ADMIN, anyone's."
    )
    async def delete_account(self, info: strawberry.Info, account_id: strawberry.ID | None = None) -> bool:
        # The accounts service deletes the account and its sessions and publishes
        # `user_deleted`; every service holding personal data handles that event.
        context: Context = info.context
        caller = await context.require_account(info)
        target = caller.id if account_id is None else str(account_id)
        request = dict(token=context.token, account_id=target)
        deleted = await context.invoke(Accounts.DELETE_ACCOUNT, request, op="deleteAccount")
        context.forget_user(target)  # this process at once; the others by `user_deleted`
        if deleted and target == caller.id and context.gateway_auth is not None:
            context.gateway_auth.clear_session(context.response)
        return deleted


async def _carry_over(context: Context, guest_id: str, user_id: str) -> None:
    """The guest's views count for the new account at once. The account exists already,
    so a metering hiccup must not fail the registration: metering's `user_registered`
    handler does the same carry-over (idempotently) when it gets the event."""
    try:
        await context.invoke(
            Metering.CARRY_OVER, metering.CarryOverRequest(guest_id=guest_id, user_id=user_id), op="register.carry_over"
        )
    except PlatformError as exc:
        log.warning("carry-over of guest usage deferred to the user_registered event: %s", exc)
