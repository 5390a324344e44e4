"""Contract of the `accounts` service: registration, log-in, tokens, plans and roles.

Every RPC takes one argument, `request`, the JSON dump of the request model named beside
it, and returns the JSON dump of the response model (as the `codes` service does):

    account = accounts_rpc.authenticate({"token": token})        # -> Account
    auth = accounts_rpc.register(RegisterRequest(...).model_dump(mode="json"))  # -> AuthPayload

Errors (medcode_contracts.errors): BadRequest (invalid input), Unauthenticated (missing,
bad, expired or revoked token; wrong email or password: the same message either way),
Forbidden (not allowed for this caller), Conflict (email taken), NotFound (no such
account, for an ADMIN), RateLimited (too many failed log-ins, or registrations from one
client address; try later).
"""

from __future__ import annotations

from enum import Enum

from pydantic import Field

from .common import Model

SERVICE = "accounts"


class Rpc:
    HEALTH = "health"
    REGISTER = "register"  # RegisterRequest -> AuthPayload
    LOGIN = "login"  # LoginRequest -> AuthPayload
    LOGOUT = "logout"  # TokenRequest -> bool (revokes the token; idempotent)
    AUTHENTICATE = "authenticate"  # TokenRequest -> Account (per gateway request; fast)
    GET_ACCOUNT = "get_account"  # GetAccountRequest -> Account (viewer, or ADMIN: anyone)
    SET_PLAN = "set_plan"  # SetPlanRequest -> Account (caller must be ADMIN)
    DELETE_ACCOUNT = "delete_account"  # DeleteAccountRequest -> bool
    # For edge processes that know a person only by address (the mail ingress): never
    # exposed by the gateway.
    FIND_ACCOUNT = "find_account"  # FindAccountRequest -> Account | None


class Events:
    USER_REGISTERED = "user_registered"
    PLAN_CHANGED = "plan_changed"
    ROLE_CHANGED = "role_changed"
    USER_DELETED = "user_deleted"
    SESSION_REVOKED = "session_revoked"


# Session tokens are HS256 JSON Web Tokens signed with TOKEN_SECRET: `sub` = account id,
# `jti` = session id, `iss`, `iat`, `exp`. Accounts issues them; the gateway checks them
# with the same secret and asks accounts only about sessions it has not seen.
TOKEN_ISSUER = "medcode-accounts"
TOKEN_ALGORITHM = "HS256"
TOKEN_CLAIMS = ("sub", "jti", "exp", "iat", "iss")


class Plan(str, Enum):
    GUEST = "GUEST"  # no account: only metering knows guests
    FREE = "FREE"
    PRO = "PRO"


class Role(str, Enum):
    MEMBER = "MEMBER"
    EMPLOYER = "EMPLOYER"
    ADMIN = "ADMIN"  # never through register: `make admin EMAIL=...`


MAX_PASSWORD_LENGTH = 1024  # hashing cost grows with length: refuse absurd input early
MAX_TOKEN_LENGTH = 4096


class RegisterRequest(Model):
    email: str = Field(max_length=320)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    name: str = Field(max_length=200)
    role: Role = Role.MEMBER
    guest_id: str | None = Field(default=None, max_length=100)  # the guest this person was
    client_ip: str | None = Field(default=None, max_length=64)  # new accounts per address are limited


class LoginRequest(Model):
    email: str = Field(max_length=320)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    client_ip: str | None = Field(default=None, max_length=64)  # for slowing down guessing


class TokenRequest(Model):
    token: str = Field(max_length=MAX_TOKEN_LENGTH)


class GetAccountRequest(TokenRequest):
    account_id: str | None = None  # None: the caller's own account


class SetPlanRequest(TokenRequest):
    account_id: str
    plan: Plan


class DeleteAccountRequest(TokenRequest):
    account_id: str | None = None  # None: the caller's own account


class FindAccountRequest(Model):
    email: str = Field(max_length=320)


class Account(Model):
    """What any endpoint shows of an account: never the password hash."""

    id: str
    email: str
    name: str
    plan: Plan
    role: Role
    created_at: str  # ISO-8601 UTC


class AuthPayload(Model):
    token: str
    expires_at: str  # ISO-8601 UTC
    account: Account
