"""Accounts and the meter: register, login, logout, setPlan, deleteAccount and viewer.

The accounts service does the real work (password hashing, tokens, the ADMIN check from
the caller's token); the gateway adds the web app's cookies (gateway.auth), the guest's
carry-over to the new account, and the meter from the metering service.
"""
from __future__ import annotations

import logging

import strawberry
from medcode_common.rpc import parse_request
from medcode_contracts import accounts as contract
from medcode_contracts import metering
from medcode_contracts.errors import PlatformError

from ..context import Context
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
        # Only these five fields ever leave the gateway (the service never sends a hash).
        return cls(id=strawberry.ID(account.id), email=account.email, name=account.name,
                   plan=Plan(account.plan.value), role=Role(account.role.value))


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


async def _call(context: Context, method: str, request, op: str):
    return await context.rpc.call(contract.SERVICE, method, request=request.model_dump(mode="json"),
                                  timeout=context.rpc_timeout, op=op)


def _request(model, **fields):
    """The contract request, or BadRequest naming the bad field (never echoing a value:
    it may be a password) before any RPC."""
    return parse_request(model, fields)


def _signed_in(context: Context, payload: dict) -> AuthPayload:
    auth = contract.AuthPayload.model_validate(payload)
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
        meter = metering.Meter.model_validate(await context.rpc.call(
            metering.SERVICE, metering.Rpc.GET_METER,
            request=metering.MeterRequest(subject=who.subject, plan=who.plan, client_ip=who.client_ip)
            .model_dump(mode="json"),
            timeout=context.rpc_timeout, op="viewer"))
        return Viewer(account=Account.from_contract(account) if account else None,
                      meter=Meter(plan=Plan(meter.plan.value), limit=meter.limit, used=meter.used,
                                  remaining=meter.remaining))


@strawberry.type
class AccountsMutation:
    @strawberry.mutation
    async def register(self, info: strawberry.Info, input: RegisterInput) -> AuthPayload:
        context: Context = info.context
        guest_id = context.auth.guest_id if context.auth is not None else None
        client_ip = context.auth.client_ip if context.auth is not None else None
        request = _request(contract.RegisterRequest, email=input.email, password=input.password, name=input.name,
                           role=(input.role or Role.MEMBER).value, guest_id=guest_id, client_ip=client_ip)
        payload = await _call(context, contract.Rpc.REGISTER, request, "register")
        result = _signed_in(context, payload)
        if guest_id is not None:
            await _carry_over(context, guest_id, str(result.account.id))
        return result

    @strawberry.mutation
    async def login(self, info: strawberry.Info, email: str, password: str) -> AuthPayload:
        context: Context = info.context
        client_ip = context.auth.client_ip if context.auth is not None else None
        request = _request(contract.LoginRequest, email=email, password=password, client_ip=client_ip)
        return _signed_in(context, await _call(context, contract.Rpc.LOGIN, request, "login"))

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
        return bool(await _call(context, contract.Rpc.LOGOUT, contract.TokenRequest(token=token), "logout"))

    @strawberry.mutation(description="ADMIN only: change an account's plan (billing is out of scope).")
    async def set_plan(self, info: strawberry.Info, account_id: strawberry.ID, plan: Plan) -> Account:
        context: Context = info.context
        await context.require_account(info)
        request = _request(contract.SetPlanRequest, token=context.token, account_id=str(account_id),
                           plan=plan.value)
        return Account.from_contract(contract.Account.model_validate(
            await _call(context, contract.Rpc.SET_PLAN, request, "setPlan")))

    @strawberry.mutation(description="Delete an account and the person's data in every service: "
                                     "one's own (no id) or, as ADMIN, anyone's.")
    async def delete_account(self, info: strawberry.Info, account_id: strawberry.ID | None = None) -> bool:
        # The accounts service deletes the account and its sessions and publishes
        # `user_deleted`; every service holding personal data handles that event.
        context: Context = info.context
        caller = await context.require_account(info)
        target = caller.id if account_id is None else str(account_id)
        request = _request(contract.DeleteAccountRequest, token=context.token, account_id=target)
        deleted = bool(await _call(context, contract.Rpc.DELETE_ACCOUNT, request, "deleteAccount"))
        if deleted and target == caller.id and context.gateway_auth is not None:
            context.gateway_auth.clear_session(context.response)
        return deleted


async def _carry_over(context: Context, guest_id: str, user_id: str) -> None:
    """The guest's views count for the new account at once. The account exists already,
    so a metering hiccup must not fail the registration: metering's `user_registered`
    handler does the same carry-over (idempotently) when it gets the event."""
    try:
        await context.rpc.call(metering.SERVICE, metering.Rpc.CARRY_OVER,
                               request=metering.CarryOverRequest(guest_id=guest_id, user_id=user_id)
                               .model_dump(mode="json"),
                               timeout=context.rpc_timeout, op="register.carry_over")
    except PlatformError as exc:
        log.warning("carry-over of guest usage deferred to the user_registered event: %s", exc)
