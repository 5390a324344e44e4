"""The per-request GraphQL context: cheap to build (the DataLoaders are made on first
use, and the caller is authenticated only when a resolver asks who it is)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from graphql import OperationType
from strawberry.dataloader import DataLoader

from medcode_common.session_tokens import SessionClaims
from medcode_contracts import accounts as accounts_contract
from medcode_contracts.accounts import Plan
from medcode_contracts.errors import Unauthenticated
from medcode_contracts.rpc import Accounts, RpcMethod

from .rpc import ReplyT, RequestT, RpcClient, invoke

# Why a request may not spend a view, a claim check or a question (see Context.spending_refusal).
GET_SPENDS_NOTHING = (
    "A GET request never spends a view or a check (a link could spend them for you): "
    "send the request by POST to see the full answer."
)
CSRF_TO_SPEND = (
    "This request is authenticated by the session cookie but lacks the X-CSRF-Token header "
    "(the value of the medcode_csrf cookie), so it may not spend a view or a check: "
    "send the header, or use Authorization: Bearer <token>."
)


@dataclass(frozen=True)
class MeterSubject:
    """Whom the meter counts: a user (FREE, PRO) or a guest (with the client's IP)."""

    subject: str
    plan: Plan
    client_ip: str | None = None


@dataclass
class Context:
    rpc: RpcClient
    request: Any = None  # starlette Request or WebSocket (None in schema tests)
    response: Any = None
    rpc_timeout: float | None = None  # None: the client's default
    # The caller's credentials (gateway.auth.RequestAuth) and the app's auth handling
    # (gateway.auth.GatewayAuth). None when the schema runs without an HTTP request
    # (schema tests): then nobody is authenticated and nothing is metered.
    auth: Any = None
    gateway_auth: Any = None
    # gateway.edition_cache.EditionCaches of the process (search results, code pages and
    # their rules); None (schema tests): every answer comes from the codes service.
    caches: Any = None
    # gateway.sessions.SessionCache of the process: tokens checked here, accounts asked once
    # per session. None (schema tests): every request asks accounts.
    sessions: Any = None
    connection_params: Any = None  # a websocket's connection_init payload (gateway.auth.connection_auth)
    # medcode_common.aio_rpc.coalescing.Coalescing of the process: calls of concurrent
    # requests sent as one batch call where a method has a batch twin. None: each its own.
    coalescing: Any = None
    _loaders: dict[str, DataLoader] = field(default_factory=dict)
    # The request's decision about each code page's view, by metered resource
    # (gateway.schema.codes.access.decided_access).
    page_accesses: dict[str, asyncio.Future] = field(default_factory=dict)
    _account: asyncio.Future | None = None

    async def invoke(
        self,
        method: RpcMethod[RequestT, ReplyT],
        request: RequestT | dict[str, Any],
        *,
        op: str | None = None,
        timeout: float | None = None,
    ) -> ReplyT:
        """`method` (medcode_contracts.rpc) called with `request`, typed both ways, within
        this request's RPC timeout unless `timeout` says otherwise (medcode_common.aio_rpc.typed.invoke);
        coalesced with other requests' calls of it when the process does that (`coalescing`)."""
        timeout = self.rpc_timeout if timeout is None else timeout
        if self.coalescing is not None:
            return await self.coalescing.invoke(self.rpc, method, request, timeout=timeout, op=op)
        return await invoke(self.rpc, method, request, timeout=timeout, op=op)

    def loader(self, name: str, factory) -> DataLoader:
        """The request's DataLoader called `name`, made by `factory(self)` on first use."""
        loader = self._loaders.get(name)
        if loader is None:
            loader = self._loaders[name] = factory(self)
        return loader

    # -- who is calling ----------------------------------------------------------------
    @property
    def token(self) -> str | None:
        return self.auth.token if self.auth is not None else None

    async def account(self, info: Any = None) -> accounts_contract.Account | None:
        """The caller's account, or None for a guest (no token). At most one
        `accounts.authenticate` per request however many resolvers ask, and none for a
        session this process already checked (gateway.sessions); Unauthenticated for a bad,
        expired or revoked token. Pass the resolver's `info` from mutations: a cookie-authenticated
        mutation must carry its CSRF token (gateway.auth), else Forbidden."""
        auth = self.auth
        if auth is None:
            return None
        if auth.authorization_error is not None:
            raise auth.authorization_error
        if auth.token is None:
            return None
        if info is not None and info.operation.operation is OperationType.MUTATION:
            self.gateway_auth.check_csrf(auth)
        if self._account is None:
            self._account = self._start_authenticating()
        return await asyncio.shield(self._account)

    def prefetch_account(self) -> None:
        """Start authenticating now, without waiting: a resolver that will need the caller
        later (the code page's meter) lets the authenticate RPC overlap its own RPCs. Errors
        surface where account() is awaited; if nobody awaits, they are dropped quietly."""
        auth = self.auth
        if auth is None or auth.token is None or auth.authorization_error is not None or self._account:
            return
        self._account = self._start_authenticating()
        self._account.add_done_callback(lambda task: task.cancelled() or task.exception())

    def _start_authenticating(self) -> asyncio.Future:
        """The check of the caller's token: answered at once when the token is bad or its
        session is kept here (no task to run), else the task that asks accounts."""
        sessions = self.sessions
        claims = None
        if sessions is not None:
            try:
                claims = sessions.verify(self.auth.token)
            except Unauthenticated as exc:
                self._drop_dead_cookie()
                return _answered(exception=exc)
            account = sessions.get(claims)
            if account is not None:
                return _answered(account)
        return asyncio.ensure_future(self._ask_accounts(claims))

    async def require_account(self, info: Any = None) -> accounts_contract.Account:
        account = await self.account(info)
        if account is None:
            raise Unauthenticated("Log in first: this needs an account.")
        return account

    def spending_refusal(self) -> str | None:
        """Why this request may not spend anything on the meter (views, claim checks,
        questions), or None when it may. A GET may be a link on another site, and a
        cookie rides along with it, as with a cross-site POST form: only a request that
        proves it comes from the web app (the CSRF header) or carries its own credential
        (Authorization: Bearer) may spend. Resolvers that spend ask this first."""
        if self.auth is None or self.request is None:
            return None
        if self.request.scope.get("type") == "http" and self.request.scope.get("method") != "POST":
            return GET_SPENDS_NOTHING
        if (
            self.auth.cookie_authenticated
            and self.gateway_auth is not None
            and not self.gateway_auth.csrf_ok(self.auth)
        ):
            return CSRF_TO_SPEND
        return None

    async def meter_subject(self) -> MeterSubject:
        account = await self.account()
        if account is not None:
            return MeterSubject(subject=account.id, plan=account.plan)
        return MeterSubject(subject=self.auth.guest_id, plan=Plan.GUEST, client_ip=self.auth.client_ip)

    def forget_session(self) -> None:
        """After logout: this process no longer knows the request's session."""
        if self.sessions is not None and self.token is not None:
            try:
                self.sessions.forget_session(self.sessions.verify(self.token).session_id)
            except Unauthenticated:
                pass  # never kept

    def forget_user(self, user_id: str) -> None:
        """After a plan change or a deletion: every session of the user is checked again."""
        if self.sessions is not None:
            self.sessions.forget_user(user_id)

    async def _ask_accounts(self, claims: SessionClaims | None) -> accounts_contract.Account:
        """accounts.authenticate for the token (`claims`: as verified here, its answer is
        then kept; None: no session cache, every request asks)."""
        sessions = self.sessions
        epoch = sessions.epoch if sessions is not None else None
        try:
            account = await self.invoke(
                Accounts.AUTHENTICATE, accounts_contract.TokenRequest(token=self.auth.token), op="authenticate"
            )
        except Unauthenticated:
            self._drop_dead_cookie()
            raise
        if claims is not None:
            sessions.put(claims, account, epoch)
        return account

    def _drop_dead_cookie(self) -> None:
        if self.auth.cookie_authenticated and self.gateway_auth is not None:
            # A dead session cookie: drop it, so the next request is a plain guest.
            self.gateway_auth.clear_session(self.response)


def _answered(result: Any = None, exception: BaseException | None = None) -> asyncio.Future:
    future = asyncio.get_running_loop().create_future()
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result)
    return future
