"""Accounts: the rules and the use cases, free of Nameko (the service class only adapts
RPC payloads to these calls).

`Accounts` combines the store (storage.AccountStore), password hashing and tokens. Every
use case commits its change together with its event (outbox) before it returns; the
caller then relays the outbox.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import argon2

from medcode_common.session_tokens import BAD_TOKEN, SessionClaims, decode_session_token, encode_session_token
from medcode_contracts import accounts as contract
from medcode_contracts import events
from medcode_contracts.accounts import Plan, Role
from medcode_contracts.errors import BadRequest, Conflict, Forbidden, NotFound, RateLimited, Unauthenticated

from .config import AccountsSettings

# One message for a wrong password and an unknown email, so neither reveals the other.
BAD_CREDENTIALS = "Wrong email or password."

# Deliberately simple: one @, no spaces, a dot in the domain. Deliverability is not
# something a pattern can tell.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def utcnow() -> datetime:
    return datetime.now(UTC)


def normalise_email(raw: str) -> str:
    """Trimmed and lower-cased, or BadRequest. The whole address is lower-cased, not
    only the domain: in practice mailboxes are case-insensitive, and two accounts that
    differ only in case are a support problem, not a feature."""
    email = raw.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise BadRequest("email: not a valid email address")
    return email


def clean_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name:
        raise BadRequest("name: must not be empty")
    return name


def check_password_policy(password: str, min_length: int) -> None:
    if len(password) < min_length:
        raise BadRequest(f"password: must be at least {min_length} characters")
    if not password.strip():
        raise BadRequest("password: must not be only spaces")


@dataclass(frozen=True)
class AccountRecord:
    """A stored account. `password_hash` never leaves the service: `public()` drops it."""

    id: str
    email: str
    name: str
    password_hash: str
    plan: Plan
    role: Role
    created_at: datetime

    def public(self) -> contract.Account:
        return contract.Account(
            id=self.id,
            email=self.email,
            name=self.name,
            plan=self.plan,
            role=self.role,
            created_at=self.created_at.isoformat(),
        )


class Passwords:
    """argon2id hashing. `run_blocking` runs the hashing off the caller's event loop when
    the service has one (it takes tens of milliseconds of CPU). Each hash needs
    ARGON2_MEMORY_KIB while it runs, so at most ARGON2_MAX_CONCURRENT run at once per
    process (`slots`, a semaphore of the caller's concurrency model; the rest wait), or a
    burst of log-ins would need more memory than the process has."""

    def __init__(self, settings: AccountsSettings, run_blocking: Callable = lambda f, *a: f(*a), slots: Any = None):
        self._hasher = argon2.PasswordHasher(
            time_cost=settings.ARGON2_TIME_COST,
            memory_cost=settings.ARGON2_MEMORY_KIB,
            parallelism=settings.ARGON2_PARALLELISM,
            type=argon2.Type.ID,
        )
        self._run = run_blocking
        self._slots = slots if slots is not None else threading.BoundedSemaphore(settings.ARGON2_MAX_CONCURRENT)
        # Verified against when the email is unknown, so that path costs the same time.
        self._dummy_hash = self._hasher.hash(uuid.uuid4().hex)

    def _bounded(self, function: Callable, *args):
        with self._slots:
            return self._run(function, *args)

    def hash(self, password: str) -> str:
        return self._bounded(self._hasher.hash, password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return (
                self._bounded(self._hasher.verify, password_hash or self._dummy_hash, password)
                and password_hash is not None
            )
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


@dataclass(frozen=True)
class TokenClaims:
    account_id: str
    jti: str
    expires_at: datetime


class Tokens:
    """HS256 JSON Web Tokens carrying the account id and a session id (jti); the session
    row is what logout revokes."""

    def __init__(self, secret: str, ttl: timedelta, clock: Callable[[], datetime] = utcnow):
        self._secret = secret
        self.ttl = ttl
        self._clock = clock

    def issue(self, account_id: str) -> tuple[str, TokenClaims]:
        now = self._clock().replace(microsecond=0)
        claims = TokenClaims(account_id=account_id, jti=str(uuid.uuid4()), expires_at=now + self.ttl)
        signed = SessionClaims(account_id, claims.jti, claims.expires_at.timestamp())
        return encode_session_token(self._secret, signed, issued_at=now.timestamp()), claims

    def decode(self, token: str) -> TokenClaims:
        """The claims of a well-signed, unexpired token, or Unauthenticated."""
        # Expiry against our clock (the wall clock unless a test passes another). The issue
        # time is not checked: these are our own tokens, and a replica whose clock is a second
        # behind the one that issued a token must not refuse it.
        claims = decode_session_token(token, self._secret, now=self._clock().timestamp(), check_issued_at=False)
        return TokenClaims(
            account_id=claims.account_id,
            jti=claims.session_id,
            expires_at=datetime.fromtimestamp(claims.expires_at, UTC),
        )


@dataclass(frozen=True)
class LoginThrottle:
    """Slows down password guessing per (email, client IP): `free_attempts` failures
    cost nothing; from then on every attempt first locks the pair for a delay that
    doubles per failure (up to `max_seconds`), and a success lifts the lock."""

    free_attempts: int
    base_seconds: int
    max_seconds: int
    window_seconds: int

    def lock_seconds(self, attempt_number: int) -> int:
        """How long attempt number `attempt_number` (1-based, counting failures before it)
        locks the pair while it is checked."""
        over = attempt_number - self.free_attempts
        if over <= 0:
            return 0
        return min(self.max_seconds, self.base_seconds * 2 ** min(over - 1, 30))

    @staticmethod
    def key(email: str, client_ip: str | None) -> str:
        return hashlib.sha256(f"{email}|{client_ip or '-'}".encode()).hexdigest()

    @staticmethod
    def email_key(email: str) -> str:
        return hashlib.sha256(email.encode()).hexdigest()


def counter_key(purpose: str, value: str) -> str:
    """The stored key of a rate counter: a hash, so no address or email is kept."""
    return hashlib.sha256(f"{purpose}|{value}".encode()).hexdigest()


def _wait_text(seconds: int) -> str:
    if seconds >= 5400:
        return f"{round(seconds / 3600)} hours"
    if seconds >= 90:
        return f"{round(seconds / 60)} minutes"
    return f"{seconds} seconds"


HOUR, DAY = 3600, 86400


class Accounts:
    def __init__(
        self,
        store,
        passwords: Passwords,
        tokens: Tokens,
        settings: AccountsSettings,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.store = store
        self.passwords = passwords
        self.tokens = tokens
        self.settings = settings
        self.clock = clock
        self.throttle = LoginThrottle(
            settings.LOGIN_FREE_ATTEMPTS,
            settings.LOGIN_LOCKOUT_SECONDS,
            settings.LOGIN_LOCKOUT_MAX_SECONDS,
            settings.LOGIN_FAILURE_WINDOW_SECONDS,
        )

    # -- registration and sessions ---------------------------------------------------
    def register(self, request: contract.RegisterRequest) -> contract.AuthPayload:
        if request.role is Role.ADMIN:
            raise Forbidden("role: ADMIN cannot be requested; an administrator grants it")
        email = normalise_email(request.email)
        name = clean_name(request.name)
        check_password_policy(request.password, self.settings.PASSWORD_MIN_LENGTH)
        new_account_key = self._limit_registration(request.client_ip)
        try:
            return self._register(request, email, name)
        except BaseException:
            if new_account_key is not None:  # no account came of it: it does not count
                self.store.give_back(new_account_key)
            raise

    def _limit_registration(self, client_ip: str | None) -> str | None:
        """RateLimited past the registration attempts per hour or the new accounts per
        day of the client's address; else counts one of each (before any hashing). Returns
        the new-accounts counter, to give back should the registration fail."""
        if not client_ip:
            return None
        now, s = self.clock(), self.settings
        wait = self.store.take(
            counter_key("register-attempt", client_ip), s.REGISTER_ATTEMPTS_PER_ADDRESS_PER_HOUR, HOUR, now
        )
        if wait:
            raise RateLimited(f"Too many sign-up attempts from your network: try again in {_wait_text(wait)}.")
        key = counter_key("new-account", client_ip)
        wait = self.store.take(key, s.ACCOUNTS_PER_ADDRESS_PER_DAY, DAY, now)
        if wait:
            raise RateLimited(f"Too many new accounts from your network today: try again in {_wait_text(wait)}.")
        return key

    def _register(self, request: contract.RegisterRequest, email: str, name: str) -> contract.AuthPayload:
        password_hash = self.passwords.hash(request.password)
        now = self.clock()
        account = AccountRecord(
            id=str(uuid.uuid4()),
            email=email,
            name=name,
            password_hash=password_hash,
            plan=Plan.FREE,
            role=request.role,
            created_at=now,
        )
        token, claims = self.tokens.issue(account.id)
        event = events.UserRegistered(
            user_id=account.id, email=email, plan=account.plan.value, role=account.role.value, guest_id=request.guest_id
        )
        if not self.store.create_account(account, claims, now, event):
            raise Conflict("email: an account with this email address already exists")
        return contract.AuthPayload(token=token, expires_at=claims.expires_at.isoformat(), account=account.public())

    def login(self, request: contract.LoginRequest) -> contract.AuthPayload:
        try:
            email = normalise_email(request.email)
        except BadRequest:
            email = request.email.strip().lower()  # cannot exist; fails like any unknown email
        now = self.clock()
        counted = self._count_login_attempt(email, request.client_ip, now)
        key = LoginThrottle.key(email, request.client_ip)
        wait = self.store.begin_login_attempt(key, LoginThrottle.email_key(email), now, self.throttle)
        if wait:
            raise RateLimited(f"Too many failed log-ins: try again in {wait} seconds.")
        account = self.store.find_by_email(email)
        if not self.passwords.verify(account.password_hash if account else None, request.password):
            raise Unauthenticated(BAD_CREDENTIALS)
        self.store.clear_login_attempts(key)
        for counter in counted:  # a success is no failure: it does not count
            self.store.give_back(counter)
        if self.passwords.needs_rehash(account.password_hash):
            self.store.set_password_hash(account.id, self.passwords.hash(request.password))
        token, claims = self.tokens.issue(account.id)
        if not self.store.create_session(account.id, claims, now):
            raise Unauthenticated(BAD_CREDENTIALS)  # deleted between the check and now
        return contract.AuthPayload(token=token, expires_at=claims.expires_at.isoformat(), account=account.public())

    def _count_login_attempt(self, email: str, client_ip: str | None, now: datetime) -> list[str]:
        """Counts the attempt as a failure (until it succeeds) per client address and per
        account, each with its hourly limit, before any hashing: parallel guesses cannot
        slip past. RateLimited, counting nothing, when either limit is reached."""
        limits = [(counter_key("login-account", email), self.settings.LOGIN_ACCOUNT_FAILURES_PER_HOUR)]
        if client_ip:
            limits.insert(0, (counter_key("login-address", client_ip), self.settings.LOGIN_ADDRESS_FAILURES_PER_HOUR))
        counted: list[str] = []
        for key, limit in limits:
            wait = self.store.take(key, limit, HOUR, now)
            if wait:
                for taken in counted:
                    self.store.give_back(taken)
                raise RateLimited(f"Too many failed log-ins: try again in {_wait_text(wait)}.")
            counted.append(key)
        return counted

    def logout(self, token: str) -> bool:
        """Revokes the token's session. A bad or expired token has nothing to revoke."""
        try:
            claims = self.tokens.decode(token)
        except Unauthenticated:
            return True
        self.store.revoke_session(claims.jti, self.clock())  # records session_revoked
        return True

    def authenticate(self, token: str) -> AccountRecord:
        """The account behind a live token: signature, expiry, then one indexed query
        (session not revoked, account not deleted)."""
        claims = self.tokens.decode(token)
        account = self.store.session_account(claims.jti, claims.account_id)
        if account is None:
            raise Unauthenticated(BAD_TOKEN)
        return account

    # -- reading and administration -------------------------------------------------
    def find_account(self, email: str) -> AccountRecord | None:
        """The account of an address, for edge processes that know only the address."""
        try:
            return self.store.find_by_email(normalise_email(email))
        except BadRequest:
            return None

    def get_account(self, token: str, account_id: str | None) -> AccountRecord:
        caller = self.authenticate(token)
        if account_id is None or account_id == caller.id:
            return caller
        self._require_admin(caller)
        return self._existing(account_id)

    def set_plan(self, token: str, account_id: str, plan: Plan) -> AccountRecord:
        caller = self.authenticate(token)
        self._require_admin(caller)
        if plan is Plan.GUEST:
            raise BadRequest("plan: GUEST is for visitors without an account")
        updated = self.store.set_plan(account_id, plan, self.clock())
        if updated is None:
            raise NotFound(f"account {account_id} does not exist")
        return updated

    def delete_account(self, token: str, account_id: str | None) -> bool:
        caller = self.authenticate(token)
        target = caller.id if account_id is None else account_id
        if target != caller.id:
            self._require_admin(caller)
        if not self.store.delete_account(target):
            raise NotFound(f"account {target} does not exist")
        return True

    def make_admin(self, email: str) -> AccountRecord:
        account = self.store.set_role(normalise_email(email), Role.ADMIN)
        if account is None:
            raise NotFound(f"no account with email {email.strip()!r}: register it first")
        return account

    def purge_expired(self) -> int:
        return self.store.purge_expired(self.clock(), self.throttle)

    def _require_admin(self, caller: AccountRecord) -> None:
        if caller.role is not Role.ADMIN:
            raise Forbidden("only an administrator may do this")

    def _existing(self, account_id: str) -> AccountRecord:
        account = self.store.get(account_id)
        if account is None:
            raise NotFound(f"account {account_id} does not exist")
        return account
